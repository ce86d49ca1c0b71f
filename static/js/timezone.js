// The browser's time zone, offered to the server (loaded as a module by the sign-up and
// profile pages). The server validates the name and falls back to the site's default.
//
// Sign-up: <input type="hidden" data-browser-zone> gets the IANA name (e.g. "Asia/Tokyo").
// Profile: an element with [data-browser-zone-offer] for a <select> named by its
// data-for attribute shows "Your browser is in …" with a button that picks it, when the
// select holds another zone and the browser's is one of the choices.

function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    return "";
  }
}

const zone = browserZone();

if (zone) {
  for (const input of document.querySelectorAll("input[data-browser-zone]")) {
    if (!input.value) input.value = zone;
  }
  for (const offer of document.querySelectorAll("[data-browser-zone-offer]")) {
    const select = document.getElementById(offer.dataset.for || "");
    if (!select || select.value === zone) continue;
    if (!Array.from(select.options).some((option) => option.value === zone)) continue;
    const name = offer.querySelector("[data-zone-name]");
    if (name) name.textContent = zone.replaceAll("_", " ");
    const button = offer.querySelector("button");
    if (button) {
      button.addEventListener("click", () => {
        select.value = zone;
        offer.hidden = true;
      });
    }
    offer.hidden = false;
  }
}
