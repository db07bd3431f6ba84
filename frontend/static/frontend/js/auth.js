// Sign-in and sign-up forms: the API's session log-in (CSRF cookie set by the page).
import { api, ApiError, urls } from "./api.js";
import { clearErrors, showErrors } from "./dom.js";

function values(form) {
  return Object.fromEntries(new FormData(form).entries());
}

function required(form, names) {
  const errors = {};
  for (const name of names) {
    if (!String(form.elements[name].value).trim()) errors[name] = "Required.";
  }
  return errors;
}

async function submitting(form, work) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await work();
  } catch (error) {
    if (error instanceof ApiError) showErrors(form, error.fields);
    else throw error;
  } finally {
    button.disabled = false;
  }
}

const signin = document.getElementById("signin-form");
if (signin) {
  signin.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(signin);
    const errors = required(signin, ["username", "password"]);
    if (Object.keys(errors).length) { showErrors(signin, errors); return; }
    submitting(signin, async () => {
      await api(urls.login, { method: "POST", body: values(signin) });
      location.assign(signin.getAttribute("data-next") || "/projects/");
    });
  });
}

const signup = document.getElementById("signup-form");
if (signup) {
  signup.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(signup);
    const errors = required(signup, ["username", "password"]);
    const password = signup.elements.password.value;
    if (password && password.length < 8) errors.password = "Use at least 8 characters.";
    const email = signup.elements.email;
    if (email.value && !email.checkValidity()) errors.email = "Enter a valid email address.";
    if (Object.keys(errors).length) { showErrors(signup, errors); return; }
    submitting(signup, async () => {
      const data = values(signup);
      await api(urls.signup, { method: "POST", body: data });
      await api(urls.login, { method: "POST", body: { username: data.username, password: data.password } });
      location.assign("/projects/");
    });
  });
}

