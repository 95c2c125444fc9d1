/* What every page script shares: the CSRF token, one fetch wrapper for the JSON API and the
 * wording of its error bodies, as window.ImagegenApi. base.html loads this file (defer) before
 * any page script, so they can rely on it.
 *
 * URLs come from the page, never from the scripts: templates render them with {% url %} into
 * data- attributes. A URL for one object is rendered with the placeholder id 0, for example
 * data-image-url="{% url 'api-gallery-image' 0 %}", and urlFor(template, id) puts the real id
 * in place of the template's last path segment that is "0". */
(function () {
  "use strict";

  function cookie(name) {
    const prefix = name + "=";
    const found = document.cookie.split("; ").find((part) => part.startsWith(prefix));
    return found ? decodeURIComponent(found.slice(prefix.length)) : "";
  }

  // base.html gives htmx the token in <body hx-headers> on every page; a form's hidden input
  // and Django's cookie are the fallbacks.
  function csrfToken() {
    try {
      const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      if (headers["X-CSRFToken"]) return headers["X-CSRFToken"];
    } catch (error) { /* not JSON: try the others */ }
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input && input.value ? input.value : cookie("csrftoken");
  }

  // Resolves (never rejects) to {ok, status, data, response}. data is the parsed JSON body, or
  // null for 204 and for bodies that are not JSON (a ZIP stays readable from response).
  async function request(method, url, body) {
    const options = {
      method: method,
      credentials: "same-origin",
      headers: {Accept: "application/json", "X-CSRFToken": csrfToken()},
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, options);
    } catch (error) {
      return {ok: false, status: 0, data: {detail: "The server could not be reached."},
              response: null};
    }
    let data = null;
    if (response.status !== 204 && /json/.test(response.headers.get("Content-Type") || "")) {
      try { data = await response.json(); } catch (error) { data = null; }
    }
    return {ok: response.ok, status: response.status, data: data, response: response};
  }

  // POST a FormData with upload progress (fetch cannot report it): onProgress(share 0..1).
  // Resolves (never rejects) like request(), to {ok, status, data}.
  function upload(url, body, onProgress) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
      });
      xhr.addEventListener("load", () => {
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch (error) { data = null; }
        resolve({ok: xhr.status >= 200 && xhr.status < 300, status: xhr.status, data: data});
      });
      xhr.addEventListener("error", () => resolve(
        {ok: false, status: 0, data: {detail: "The server could not be reached."}}));
      xhr.send(body);
    });
  }

  // Keys whose messages need no field name in front of them.
  const BARE = ["detail", "non_field_errors"];
  const isMessage = (value) => value === null || typeof value !== "object";

  // Appends "field: message message" per field of a DRF error body. Nested serializers and
  // list fields give objects (or lists of objects) of errors: their path is dotted, "tags.0".
  function fieldErrors(value, path, lines) {
    if (isMessage(value) || (Array.isArray(value) && value.every(isMessage))) {
      const text = [].concat(value).filter((m) => m !== null && m !== "").join(" ");
      if (text) lines.push(path ? path + ": " + text : text);
      return lines;
    }
    for (const [key, inner] of Object.entries(value)) {
      fieldErrors(inner, BARE.includes(key) ? path : (path ? path + "." + key : key), lines);
    }
    return lines;
  }

  // One readable sentence for an error body: its "detail" alone when it has one, else every
  // field's messages joined with "; "; the fallback when the body says nothing.
  function errorText(data, fallback) {
    fallback = fallback || "Something went wrong; try again.";
    if (!data || typeof data !== "object") return fallback;
    if (data.detail) return [].concat(data.detail).join(" ");
    return fieldErrors(data, "", []).join("; ") || fallback;
  }

  // The URL of object `id` from a template rendered with the placeholder id 0 (see above).
  function urlFor(template, id) {
    const parts = template.split("/");
    const at = parts.lastIndexOf("0");
    if (at < 0) throw new Error("No placeholder id 0 in the URL " + template);
    parts[at] = encodeURIComponent(String(id));
    return parts.join("/");
  }

  window.ImagegenApi = {csrfToken: csrfToken, request: request, upload: upload,
                       errorText: errorText, urlFor: urlFor};
})();
