// Sign-in: the admin API key opens a session; on the console, an agent's token does (agt_...).

import { ApiError, session } from "../api.js";
import { h } from "../dom.js";

export function signInPage({ area, error, onSignedIn }) {
  const input = h("input", { type: "password", name: "apiKey", id: "api-key", placeholder: area.credential || "API key", autocomplete: "current-password", required: true, autofocus: true });
  const message = h("div", { class: ["error-box", !error && "hidden"], role: "alert", id: "sign-in-error" }, error || "");
  const button = h("button", { class: "btn primary", type: "submit" }, "Sign in");
  const form = h("form", {
    onsubmit: async (event) => {
      event.preventDefault();
      button.disabled = true;
      message.classList.add("hidden");
      try {
        const value = input.value.trim();
        onSignedIn(await (value.startsWith("agt_") ? session.signInAgent(value) : session.signIn(value)));
      } catch (e) {
        message.textContent = e instanceof ApiError && e.status === 401
          ? `That is not ${area.credential ? "an agent token or the API key" : "the API key"}. Check it and try again.`
          : `Could not sign in: ${e.message}`;
        message.classList.remove("hidden");
        input.select();
      } finally {
        button.disabled = false;
      }
    },
  },
  h("label", { for: "api-key", class: "muted" }, area.credential || "Admin API key"), input, message, button);
  return h("div", { class: "signin" },
    h("div", { class: "card" },
      h("img", { src: "/static/icon.svg", alt: "", width: 36, height: 36 }),
      h("h1", null, `Sign in to ${area.title}`),
      h("div", { class: "muted" }, area.signInText),
      form,
      h("p", { class: "hint" }, "The server prints the key when it starts; it is also kept in ", h("code", null, "data/api_key"), " (or set as ", h("code", null, "API_KEY"), ").")));
}
