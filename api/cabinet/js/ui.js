// Shared pieces of the screens: labelled fields with their error next to them, notices, badges.
import { get, imageUrl } from "./api.js";
import { h, replace, uid } from "./dom.js";
import { t } from "./i18n.js";
import { rub } from "./money.js";

export function field({ label, hint, input }) {
  const id = input.id || uid("f");
  input.id = id;
  const hintEl = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
  const errorEl = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  const wrap = h("div", { class: "field" }, h("label", { for: id }, label), hintEl, input, errorEl);
  const describe = () =>
    [hintEl && hintEl.id, errorEl.hidden ? null : errorEl.id].filter(Boolean).join(" ");
  input.setAttribute("aria-describedby", describe());
  wrap.setError = (message) => {
    replace(errorEl, message || "");
    errorEl.hidden = !message;
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    input.setAttribute("aria-describedby", describe());
  };
  wrap.input = input;
  return wrap;
}

// A message box; `role` "alert" for errors (read out at once), "status" for news.
export function notice(kind, ...content) {
  return h("div", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" }, ...content);
}

// An identifier (ИПД, ЕЛС, ИНН, account number) is one word to whoever copies it: never split
// across lines, not even at its hyphens.
export function ident(text) {
  return text ? h("span", { class: "ident" }, text) : text;
}

// `text` with `id` inside it kept whole.
export function withIdent(text, id) {
  const at = id ? text.indexOf(id) : -1;
  return at < 0 ? text : [text.slice(0, at), ident(id), text.slice(at + id.length)];
}

export function badge(kind, text) {
  return h("span", { class: `badge badge-${kind}` }, text);
}

export function paymentBadge(status) {
  return badge(status, t(`status_${status}`));
}

export function errorText(error) {
  const problem = error.problem || {};
  if (error.code === "network") return t("err_network");
  if (error.code === "insufficient_funds") {
    return t("err_insufficient_funds", { balance: rub(problem.balance ?? 0), amount: rub(problem.amount ?? 0) });
  }
  const key = `err_${error.code}`;
  const text = t(key);
  if (text !== key) return text;
  if (error.status === 429) return t("err_too_many_requests");
  if (error.status >= 500 || error.status === 0) return t("err_server");
  return t("err_default", { detail: problem.detail || problem.title || error.status });
}

// Which body field a problem is about: the ledger's own codes, or a schema error's `loc`.
export function problemField(error, codes) {
  if (codes[error.code]) return codes[error.code];
  const loc = error.problem?.errors?.[0]?.loc || [];
  return loc[0] === "body" ? loc[1] : null;
}

const live = () => document.getElementById("live");

export function announce(message) {
  const region = live();
  region.textContent = "";
  setTimeout(() => {
    region.textContent = message;
  }, 50);
}

export function button(text, attrs = {}) {
  return h("button", { type: "button", ...attrs }, text);
}

// The bill's ГОСТ Р 56042 payment code, for a bank's app; its payload carries what is due now.
export function billQr(documentId) {
  const img = h("img", { class: "qr", width: "164", height: "164", alt: t("qrAlt", { document: documentId }) });
  const figure = h("figure", { class: "qr-figure" }, img, h("figcaption", {}, t("qrCaption")));
  imageUrl(`/v1/bills/${encodeURIComponent(documentId)}/qr?format=svg`)
    .then((url) => {
      img.src = url;
    })
    .catch(() => figure.remove());
  return figure;
}

// A settled payment's receipt that anyone can check offline: its QR code (the code text is
// the image's content; docs/verify_receipt.py reads it) and the JSON receipt to download.
// Loaded when opened; until the log signs a checkpoint that covers the payment, it says so.
export function paymentReceipt(paymentId) {
  const body = h("div", { class: "receipt-body" }, h("p", {}, t("loading")));
  const details = h("details", { class: "receipt" }, h("summary", {}, t("receiptTitle")), body);
  let loaded = false;
  details.addEventListener("toggle", () => {
    if (!details.open || loaded) return;
    loaded = true;
    const path = `/v1/payments/${encodeURIComponent(paymentId)}`;
    Promise.all([imageUrl(`${path}/receipt/code?format=svg`), get(path)])
      .then(([qr, payment]) => {
        const json = new Blob([JSON.stringify(payment.receipt.tlog, null, 2)], { type: "application/json" });
        replace(
          body,
          h("figure", { class: "qr-figure receipt-qr" },
            h("img", { class: "qr", src: qr, alt: t("receiptQrAlt", { amount: rub(payment.amount), inn: payment.recipient.inn }) }),
            h("figcaption", {}, t("receiptQrCaption"))),
          h("p", {}, h("a", { href: URL.createObjectURL(json), download: `receipt-${paymentId}.json` }, t("receiptJson"))),
        );
      })
      .catch((error) => {
        loaded = false;
        replace(body, h("p", { class: "hint" }, t(error.status === 409 ? "receiptNotSigned" : "receiptUnavailable")));
      });
  });
  return details;
}
