import { ApiError, login } from "../api.js";
import { $, errorText, showMessage } from "../ui.js";

const form = $("login-form");
const error = $("login-error");
const submit = form.querySelector("button[type=submit]");

const notice = document.querySelector('[data-testid="auth-notice"]');
const reason = new URLSearchParams(window.location.search).get("reason");
if (reason === "signed-out") showMessage(notice, "You were signed out. Please sign in again.");
else if (reason === "registered") showMessage(notice, "Account created. Sign in to start chatting.");

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const username = $("login-username").value.trim().toLowerCase();
  const password = $("login-password").value;
  if (!username || !password) return showMessage(error, "Enter your username and password.");
  showMessage(error, "");
  submit.disabled = true;
  try {
    await login(username, password);
    window.location.assign("/");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) showMessage(error, "Wrong username or password.");
    else if (err instanceof ApiError && err.status === 429) {
      const wait = err.retryAfter ? ` Try again in ${err.retryAfter} s.` : " Try again later.";
      showMessage(error, `Too many attempts.${wait}`);
    } else showMessage(error, errorText(err));
  } finally {
    submit.disabled = false;
  }
});
