// The top bar's sign-out button.
import { api, urls } from "./api.js";
import { toast } from "./dom.js";

const button = document.getElementById("signout");
if (button) {
  button.addEventListener("click", async () => {
    try {
      await api(urls.logout, { method: "POST" });
      location.assign("/");
    } catch (error) {
      toast(error.message);
    }
  });
}
