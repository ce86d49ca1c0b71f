// Files go over HTTP (multipart) to the conversation's send URL with XMLHttpRequest, whose
// upload "progress" events report bytes sent. (fetch() cannot report upload progress in Chromium
// over HTTP/1.1: a streaming request body needs HTTP/2 and `duplex: "half"`.)

/**
 * POST `data` to `url`; onProgress(sentBytes, totalBytes) as it goes. Returns
 * { done: Promise<{ ok, status, body }>, abort() }; `done` rejects with an Error whose name is
 * "AbortError" after abort() and "NetworkError" when the connection failed.
 */
export function upload({ url, data, csrf, onProgress = () => {} }) {
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    xhr.open("POST", url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.withCredentials = true;
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    });
    xhr.addEventListener("load", () => resolve({ ok: xhr.status >= 200 && xhr.status < 300, status: xhr.status, body: xhr.response || {} }));
    const fail = (name) => () => {
      const error = new Error(name === "AbortError" ? "The upload was cancelled." : "The connection failed.");
      error.name = name;
      reject(error);
    };
    xhr.addEventListener("error", fail("NetworkError"));
    xhr.addEventListener("timeout", fail("NetworkError"));
    xhr.addEventListener("abort", fail("AbortError"));
    xhr.send(data);
  });
  return { done, abort: () => xhr.abort() };
}
