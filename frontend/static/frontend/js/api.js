// The REST API client of the pages: same endpoints and rules as scripts (session cookie + CSRF).

export class ApiError extends Error {
  constructor(status, body) {
    super(ApiError.summary(status, body));
    this.status = status;
    this.body = body && typeof body === "object" ? body : {};
  }

  // Field errors as {field: "message"}; the rest (detail, non_field_errors) under "".
  get fields() {
    const out = {};
    for (const [key, value] of Object.entries(this.body)) {
      const text = ApiError.text(value);
      if (!text) continue;
      const field = key === "detail" || key === "non_field_errors" ? "" : key;
      out[field] = out[field] ? `${out[field]} ${text}` : text;
    }
    return out;
  }

  static text(value) {
    if (value == null) return "";
    if (Array.isArray(value)) return value.map(ApiError.text).filter(Boolean).join(" ");
    if (typeof value === "object") {
      return Object.entries(value).map(([k, v]) => `${k}: ${ApiError.text(v)}`).join("; ");
    }
    return String(value);
  }

  static summary(status, body) {
    if (body && typeof body === "object") {
      const text = ApiError.text(body.detail ?? body.non_field_errors ?? "");
      if (text) return text;
    }
    if (status === 0) return "The server could not be reached. Check your connection.";
    if (status === 403) return "You are not signed in, or this is not yours.";
    if (status === 404) return "Not found.";
    if (status >= 500) return `The server had a problem (HTTP ${status}). Try again.`;
    return `The request was refused (HTTP ${status}).`;
  }
}

export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "csrftoken") return decodeURIComponent(rest.join("="));
  }
  return "";
}

// fetch a JSON API path; body: a plain object (sent as JSON) or FormData (multipart).
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  const options = { method, headers, credentials: "same-origin", signal };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
  if (body instanceof FormData) {
    options.body = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, null);
  }
  if (response.status === 204) return null;
  let data = null;
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) {
    try { data = await response.json(); } catch { data = null; }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// Every row of a paginated list (DRF "next" links).
export async function apiAll(path) {
  const rows = [];
  let next = path;
  while (next) {
    const page = await api(next);
    if (Array.isArray(page)) return page;
    rows.push(...page.results);
    next = page.next ? new URL(page.next, location.href).pathname + new URL(page.next, location.href).search : null;
  }
  return rows;
}

export const urls = {
  me: "/api/auth/me/",
  login: "/api/auth/login/",
  logout: "/api/auth/logout/",
  signup: "/api/auth/signup/",
  projects: "/api/projects/",
  project: (id) => `/api/projects/${id}/`,
  searches: "/api/searches/",
  search: (id) => `/api/searches/${id}/`,
  searchAction: (id, action) => `/api/searches/${id}/${action}/`,
  pareto: (id) => `/api/searches/${id}/pareto/`,
  candidates: (id) => `/api/searches/${id}/candidates/`,
  candidate: (id, index) => `/api/searches/${id}/candidates/${index}/`,
  timeline: (id, index) => `/api/searches/${id}/candidates/${index}/timeline/`,
  file: (id, index, kind) => `/api/searches/${id}/candidates/${index}/files/${kind}/`,
  usageExample: (id, index) => `/api/searches/${id}/candidates/${index}/usage-example/`,
  ops: (id, index) => `/ui/api/searches/${id}/candidates/${index}/ops/`,
  datasets: "/api/datasets/",
  uploads: "/api/datasets/uploads/",
  presets: "/api/mcu-presets/",
  socket: (id, after) => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${location.host}/ws/searches/${id}/?after=${after}`;
  },
};
