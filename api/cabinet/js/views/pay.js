// «Оплатить ЖКУ»: amount pre-filled with what is due, the recipient's requisites to check,
// wallet or card, and the outcome. One Idempotency-Key per intent (api.js: Intent), so a double
// click or a retry after a lost answer pays once.
import { Intent, get, session } from "../api.js";
import { facts, h, replace } from "../dom.js";
import { date, period, t } from "../i18n.js";
import { parseRub, rub, rubInput } from "../money.js";
import { poll } from "../poll.js";
import { announce, billQr, errorText, field, ident, notice, paymentBadge, paymentReceipt, withIdent } from "../ui.js";
import { linesTable } from "./accounts.js";

const SETTLED = new Set(["succeeded", "failed", "canceled", "refunded", "partially_refunded"]);

export async function payView(app, main, accountId, billId) {
  const heading = h("h1", { tabindex: "-1" }, t("payTitle"));
  main.replaceChildren(heading, h("p", {}, t("loading")));
  let account;
  let doc = null;
  try {
    await Promise.all([app.loadAccounts(), app.loadWallets()]);
    account = app.accounts.find((a) => a.id === accountId);
    if (!account) throw Object.assign(new Error("no account"), { code: "not_found", status: 404 });
    const bill = billId ? account.bills.find((b) => b.id === billId) : account.bills.find((b) => b.status !== "withdrawn");
    if (billId && !bill) throw Object.assign(new Error("no bill"), { code: "not_found", status: 404 });
    if (bill) doc = await get(`/v1/accounts/${account.id}/bills/${bill.id}`);
  } catch (error) {
    main.replaceChildren(heading, notice("error", errorText(error)), backLink());
    return heading;
  }
  const forBill = Boolean(billId);
  const due = forBill ? Math.max(0, doc.amount_due - doc.paid) : account.balance.due;
  const intro = [
    h("p", { class: "lead" }, t("payFor", { number: account.account_number, address: account.address })),
    forBill
      ? h("p", {}, withIdent(t("payBillFor", { document: doc.document_id, period: period(doc.period), due: date(doc.due_date) }), doc.document_id))
      : h("p", {}, t("payAccountWide")),
    forBill ? h("div", { class: "bill-doc" }, linesTable(doc), billQr(doc.document_id)) : null,
  ];
  const body = h("div", { class: "pay-body" });
  replace(main, heading, intro, doc ? recipientSection(doc.recipient) : null, body);
  body.append(payForm(app, account, forBill ? doc : null, due, body));
  return heading;
}

function backLink() {
  return h("p", {}, h("a", { href: "#/accounts" }, t("back")));
}

function recipientSection(r) {
  return h(
    "section",
    { class: "card recipient", "aria-labelledby": "recipient-title" },
    h("h2", { id: "recipient-title" }, t("recipient")),
    facts([
      [t("recipientName"), r.name],
      [t("recipientInn"), ident(r.inn)],
      [t("recipientKpp"), ident(r.kpp)],
      [t("bank"), r.bank_name],
      [t("bik"), ident(r.bik)],
      [t("settlement"), ident(r.settlement_account)],
      [t("correspondent"), ident(r.correspondent_account)],
    ]),
    h("p", { class: "hint" }, t("recipientCheck")),
  );
}

function payForm(app, account, doc, due, container) {
  const wallet = app.wallet();
  const card = app.config.card_payments; // no acquirer, no card (api/web.py: CabinetConfig)
  const amount = field({
    label: t("amountLabel"),
    hint: t("amountHint"),
    input: h("input", { name: "amount", inputmode: "decimal", autocomplete: "off", required: true, value: due > 0 ? rubInput(due) : "" }),
  });
  const radio = (value, label, checked) => {
    const id = `method-${value}`;
    return h(
      "div",
      { class: "choice" },
      h("input", { type: "radio", name: "method", id, value, checked }),
      h("label", { for: id }, label),
    );
  };
  const methods = h(
    "fieldset",
    { class: "methods" },
    h("legend", {}, t("method")),
    wallet ? radio("wallet", t("byWallet", { balance: rub(wallet.balance) }), true) : null,
    card ? radio("card", t("byCard"), !wallet) : null,
    card && !wallet ? h("p", { class: "hint" }, t("noWallet"), " ", h("a", { href: "#/wallet" }, t("navWallet"))) : null,
    card ? null : h("p", { class: "hint" }, t("noCard")),
  );
  // Saved cards (T-Bank): one radio each, paid in one step; and the offer to save this card.
  const saveCard = card && app.config.saved_cards
    ? h("div", { class: "choice" }, h("input", { type: "checkbox", name: "save_card", id: "save-card" }), h("label", { for: "save-card" }, t("saveCard")))
    : null;
  if (saveCard) {
    methods.append(saveCard);
    get("/v1/me/cards").then((cards) => {
      for (const c of cards.items) saveCard.before(radio(`saved:${c.card_id}`, t("bySavedCard", { last4: c.last4 }), false));
    }).catch(() => {}); // without the list the page still pays by card
  }
  const receiptEmail = card && app.config.receipt_email;
  const email = field({ label: t(receiptEmail ? "emailForReceipt" : "email"), input: h("input", { name: "email", type: "email", autocomplete: "email", maxlength: "254" }) });
  const problems = h("div", { class: "messages" });
  const submit = h("button", { type: "submit", class: "primary pay" }, t("payButton"));
  const intent = new Intent();
  const form = h(
    "form",
    {
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        if (intent.pending || !form.elements.method) return; // a double click; no way to pay
        problems.replaceChildren();
        amount.setError("");
        const kopecks = parseRub(amount.input.value);
        if (kopecks === null) {
          amount.setError(t("amountBad"));
          amount.input.focus();
          return;
        }
        const chosen = form.elements.method.value;
        const method = chosen.startsWith("saved:") ? "card" : chosen;
        if (method === "card" && receiptEmail && !email.input.value.trim()) {
          email.setError(t("emailNeeded"));
          email.input.focus();
          return;
        }
        const request = { account_id: account.id, amount: kopecks, method, confirm: true };
        if (doc) request.document_id = doc.document_id;
        if (method === "wallet") request.wallet_id = wallet.id;
        if (chosen.startsWith("saved:")) request.saved_card_id = chosen.slice("saved:".length);
        else if (method === "card" && form.elements.save_card?.checked) request.save_card = true;
        if (email.input.value.trim()) request.email = email.input.value.trim();
        submit.disabled = true;
        submit.textContent = t("paying");
        try {
          const { body: payment } = await intent.send("/v1/payments", request);
          showResult(app, container, payment);
        } catch (error) {
          const parts = [errorText(error)];
          if (error.code === "insufficient_funds") parts.push(" ", h("a", { href: "#/wallet" }, t("topUpWallet")));
          const passing = error.code === "network" || error.code === "server" || error.status >= 500;
          if (passing && error.code !== "card_payments_unavailable") parts.push(" ", t("retryHint"));
          problems.replaceChildren(notice("error", ...parts));
          if (error.problem?.errors?.[0]?.loc?.[1] === "amount") amount.setError(t("amountBad"));
        } finally {
          submit.disabled = false;
          submit.textContent = t("payButton");
        }
      },
    },
    amount,
    methods,
    email,
    problems,
    h("p", { class: "actions" }, wallet || card ? submit : null, " ", h("a", { href: "#/accounts", class: "button" }, t("back"))),
  );
  return form;
}

function showResult(app, container, payment) {
  const title = {
    succeeded: t("resultSucceeded"),
    processing: t("resultProcessing"),
    failed: t("resultFailed"),
    canceled: t("resultCanceled"),
  };
  const heading = h("h2", { tabindex: "-1", id: "result-title" }, title[payment.status] || t(`status_${payment.status}`));
  const status = h("p", { class: "result-status" }, paymentBadge(payment.status));
  const extra = h("div", {});
  const panel = h(
    "section",
    { class: `card result result-${payment.status}`, "aria-labelledby": "result-title", "data-payment": payment.id },
    heading,
    status,
    facts([
      [t("paidAmount"), rub(payment.amount)],
      [t("recipient"), `${payment.recipient.name}, ${t("recipientInn")} ${payment.recipient.inn}`],
      [t("account", { number: payment.account_number }), ident(payment.document_id || "")],
      [t("paymentId"), payment.id],
    ]),
    extra,
    payment.status === "succeeded" ? paymentReceipt(payment.id) : null,
    h("p", { class: "actions" }, h("a", { class: "button primary", href: "#/history" }, t("toHistory")), " ", h("a", { class: "button", href: "#/accounts" }, t("toAccounts"))),
  );
  replace(container, panel);
  heading.focus();
  refreshAfterPayment(app);
  if (payment.status === "processing" && payment.checkout_url) {
    const waiting = h("p", { class: "waiting", role: "status" }, t("waitingBank"));
    extra.append(
      h("p", {}, h("a", { class: "button primary", href: payment.checkout_url, target: "_blank", rel: "noopener", id: "checkout-link" }, t("goToCard"))),
      h("p", { class: "hint" }, t("goToCardHint")),
      waiting,
    );
    watchPayment(app, payment.id, (settled) => {
      heading.textContent = title[settled.status] || t(`status_${settled.status}`);
      replace(status, paymentBadge(settled.status));
      panel.className = `card result result-${settled.status}`;
      replace(extra, settled.status === "succeeded" ? paymentReceipt(settled.id) : null);
      announce(heading.textContent);
    });
  }
}

function refreshAfterPayment(app) {
  Promise.all([app.loadAccounts(), app.loadWallets()])
    .then(() => app.changed("payment"))
    .catch(() => {});
}

// Follow a card payment until it settles, then read the read models at the position of the
// payment's last event (from its receipt), so what the page shows next includes the outcome.
const watched = new Set();

export function watchPayment(app, paymentId, onSettled) {
  if (watched.has(paymentId)) return;
  watched.add(paymentId);
  poll(async () => {
    const payment = await get(`/v1/payments/${paymentId}`, {}, { fresh: false });
    if (!SETTLED.has(payment.status)) return false;
    watched.delete(paymentId);
    const position = payment.receipt?.position || 0;
    if (position > session.position) session.position = position;
    await Promise.all([app.loadAccounts(), app.loadWallets()]).catch(() => {});
    onSettled(payment);
    app.changed("payment");
    return true;
  });
}
