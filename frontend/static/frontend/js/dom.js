// Tiny DOM helpers: build elements without innerHTML (user text is always set as text).

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function toast(message, ms = 4000) {
  const box = document.getElementById("toast");
  if (!box) return;
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, ms);
}

// Show field errors next to their inputs ({field: message}); "" is the form-level message.
// fieldIds maps API field names to input ids when they differ.
export function showErrors(form, errors, fieldIds = {}, formError = null) {
  clearErrors(form);
  let first = null;
  const leftovers = [];
  for (const [field, message] of Object.entries(errors)) {
    const input = field ? form.querySelector(`#${fieldIds[field] || field}`) : null;
    if (!input) {
      leftovers.push(field ? `${field.replaceAll("_", " ")}: ${message}` : message);
      continue;
    }
    setFieldError(input, message);
    first = first || input;
  }
  const box = formError || form.querySelector(".form-error");
  if (box && leftovers.length) {
    box.textContent = leftovers.join(" ");
    box.hidden = false;
  } else if (leftovers.length) {
    toast(leftovers.join(" "), 8000);
  }
  if (first) first.focus();
  else if (box && leftovers.length) box.scrollIntoView({ block: "nearest" });
  return Object.keys(errors).length > 0;
}

export function setFieldError(input, message) {
  input.setAttribute("aria-invalid", "true");
  const box = document.getElementById(`${input.id}-error`);
  if (box) box.textContent = message;
}

export function clearErrors(form) {
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  for (const box of form.querySelectorAll(".error")) box.textContent = "";
  const top = form.querySelector(".form-error");
  if (top) { top.textContent = ""; top.hidden = true; }
}
