// ESLint flat config for the browser modules (static/js) and their Node unit tests (tests/js).
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["static/vendor/**", "staticfiles/**", "node_modules/**", ".venv/**", "media/**"] },
  js.configs.recommended,
  {
    files: ["static/js/**/*.js"],
    languageOptions: { ecmaVersion: 2024, sourceType: "module", globals: { ...globals.browser } },
    rules: {
      "no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      eqeqeq: ["error", "always"],
      "no-var": "error",
      "prefer-const": "error",
      "no-implicit-globals": "error",
    },
  },
  {
    files: ["static/js/chat.js", "static/js/chat/**/*.js", "static/js/live.js"],
    rules: {
      // Message data reaches the DOM through textContent and render.js's allowlist only.
      "no-restricted-properties": [
        "error",
        { property: "innerHTML", message: "Build nodes (textContent) or use render.js's safeFragment." },
        { property: "outerHTML", message: "Build nodes (textContent) or use render.js's safeFragment." },
        { property: "insertAdjacentHTML", message: "Build nodes (textContent) or use render.js's safeFragment." },
      ],
    },
  },
  {
    files: ["tests/js/**/*.js", "eslint.config.js"],
    languageOptions: { ecmaVersion: 2024, sourceType: "module", globals: { ...globals.node } },
  },
];
