import { ApiError, api, logout, restoreSession } from "../api.js";
import { $, errorText, showMessage } from "../ui.js";

async function main() {
  let user;
  try {
    user = await restoreSession();
  } catch (err) {
    return showMessage($("profile-error"), errorText(err));
  }
  if (!user) return window.location.assign("/login");

  $("profile-username").textContent = user.username;
  const nameInput = $("profile-display-name");
  nameInput.value = user.display_name || "";

  $("profile-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const error = $("profile-error");
    const ok = $("profile-success");
    showMessage(ok, "");
    const displayName = nameInput.value.trim();
    if (!displayName || displayName.length > 64) return showMessage(error, "Display name: 1–64 characters.");
    showMessage(error, "");
    try {
      const updated = await api.updateMe({ display_name: displayName });
      nameInput.value = updated.display_name;
      showMessage(ok, "Saved.");
    } catch (err) {
      showMessage(error, errorText(err));
    }
  });

  $("password-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const error = $("password-error");
    const current = $("profile-current-password").value;
    const next = $("profile-new-password").value;
    if (!current) return showMessage(error, "Enter your current password.");
    if (next.length < 8 || next.length > 128) return showMessage(error, "New password: 8–128 characters.");
    showMessage(error, "");
    try {
      await api.updateMe({ current_password: current, new_password: next });
    } catch (err) {
      if (err instanceof ApiError && (err.status === 400 || err.status === 403)) {
        return showMessage(error, errorText(err) || "Current password is wrong.");
      }
      return showMessage(error, errorText(err));
    }
    // Every token of ours was just revoked: sign in again with the new password.
    window.location.assign("/login?reason=signed-out");
  });

  $("logout-button").addEventListener("click", async () => {
    try {
      await logout();
    } finally {
      window.location.assign("/login");
    }
  });
}

main();
