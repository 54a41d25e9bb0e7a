import { ApiError, login, register } from "../api.js";
import { $, errorText, showMessage } from "../ui.js";

const USERNAME = /^[a-z0-9_.-]{3,32}$/;
const form = $("register-form");
const error = $("register-error");
const submit = form.querySelector("button[type=submit]");

function validate(username, password, displayName) {
  if (!USERNAME.test(username)) return "Username: 3–32 characters, only a–z, 0–9, _ . -";
  if (password.length < 8 || password.length > 128) return "Password: 8–128 characters.";
  if (displayName.length > 64) return "Display name: at most 64 characters.";
  return "";
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const username = $("register-username").value.trim().toLowerCase();
  const password = $("register-password").value;
  const displayName = $("register-display-name").value.trim();
  const problem = validate(username, password, displayName);
  showMessage(error, problem);
  if (problem) return;
  submit.disabled = true;
  try {
    await register(username, password, displayName || undefined);
  } catch (err) {
    submit.disabled = false;
    if (err instanceof ApiError && err.status === 409) return showMessage(error, "That username is taken.");
    return showMessage(error, errorText(err));
  }
  try {
    await login(username, password);
    window.location.assign("/");
  } catch {
    window.location.assign("/login?reason=registered");
  }
});
