// Linked personal accounts with their projected balance and bills, and the form that links one.
import { Intent, get } from "../api.js";
import { facts, h, replace } from "../dom.js";
import { date, period, t } from "../i18n.js";
import { parseRub, rub } from "../money.js";
import { badge, billQr, errorText, field, ident, notice, problemField } from "../ui.js";

const PAYABLE = new Set(["unpaid", "partially_paid"]);

export async function accountsView(app, main) {
  const heading = h("h1", { tabindex: "-1" }, t("accountsTitle"));
  const messages = h("div", { class: "messages" });
  const list = h("div", { class: "accounts" }, h("p", {}, t("loading")));
  main.replaceChildren(heading, messages, list, linkForm(app, list, messages));
  try {
    await app.loadAccounts();
    showAccounts(app, list);
  } catch (error) {
    replace(list, notice("error", errorText(error)));
  }
  return heading;
}

function showAccounts(app, list) {
  if (!app.accounts.length) {
    replace(list, h("p", { class: "empty" }, t("noAccounts")));
    return;
  }
  replace(list, app.accounts.map((account) => accountCard(account)));
}

function accountCard(account) {
  const b = account.balance;
  const titleId = `acc-${account.id}`;
  const unconfirmed = account.access === "limited"; // a link not proven yet (issue 9)
  const balanceLine =
    b.due > 0
      ? h("p", { class: "balance balance-due" }, h("span", {}, t("due")), " ", h("strong", {}, rub(b.due)))
      : b.advance > 0
        ? h("p", { class: "balance balance-advance" }, h("span", {}, t("advance")), " ", h("strong", {}, rub(b.advance)))
        : h("p", { class: "balance balance-zero" }, t("nothingDue"));
  return h(
    "section",
    { class: "card account", "aria-labelledby": titleId, "data-account": account.account_number },
    h("h2", { id: titleId }, t("account", { number: account.account_number }), unconfirmed ? [" ", badge("unconfirmed", t("unconfirmed"))] : null),
    facts([
      [t("address"), account.address],
      [t("supplierInn"), ident(account.supplier_inn)],
      [t("els"), ident(account.els)],
    ]),
    balanceLine,
    h("p", { class: "actions" }, h("a", { class: "button primary", href: `#/pay/${account.id}` }, t("payJku"))),
    unconfirmed ? h("p", { class: "hint" }, t("unconfirmedHint")) : billsList(account),
  );
}

function billsList(account) {
  const bills = account.bills || [];
  return h(
    "div",
    { class: "bills" },
    h("h3", {}, t("bills")),
    bills.length
      ? h("ul", { class: "bill-list" }, bills.map((bill) => billItem(account, bill)))
      : h("p", { class: "empty" }, t("noBills")),
  );
}

function billItem(account, bill) {
  const lines = h("div", { class: "bill-lines" }, t("loading"));
  let loaded = false;
  const details = h(
    "details",
    {
      ontoggle: async () => {
        if (!details.open || loaded) return;
        loaded = true;
        try {
          const doc = await get(`/v1/accounts/${account.id}/bills/${bill.id}`);
          replace(lines, h("div", { class: "bill-doc" }, linesTable(doc), PAYABLE.has(doc.status) ? billQr(doc.document_id) : null));
        } catch (error) {
          loaded = false;
          replace(lines, notice("error", errorText(error)));
        }
      },
    },
    h("summary", {}, t("billLines")),
    lines,
  );
  return h(
    "li",
    { class: `bill bill-${bill.status}`, "data-document": bill.document_id },
    h("p", { class: "bill-head" }, h("strong", {}, period(bill.period)), " ", badge(`bill-${bill.status}`, t(`bill_${bill.status}`))),
    facts([
      [t("documentId"), ident(bill.document_id)],
      [t("dueDate"), date(bill.due_date)],
      [t("billAmount"), rub(bill.amount_due)],
      [t("billPaid"), rub(bill.paid)],
    ]),
    details,
    PAYABLE.has(bill.status)
      ? h("p", { class: "actions" }, h("a", { class: "button", href: `#/pay/${account.id}/${bill.id}` }, t("payBill", { period: period(bill.period) })))
      : null,
  );
}

export function linesTable(doc) {
  const total = doc.lines.reduce((sum, line) => sum + line.amount, 0);
  return h(
    "table",
    { class: "lines" },
    h("caption", { class: "visually-hidden" }, `${t("billLines")}: ${doc.document_id}`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("service")), h("th", { scope: "col", class: "num" }, t("amount")))),
    h(
      "tbody",
      {},
      doc.lines.map((line) => h("tr", {}, h("td", {}, line.service), h("td", { class: "num" }, rub(line.amount)))),
    ),
    h("tfoot", {}, h("tr", {}, h("th", { scope: "row" }, t("total")), h("td", { class: "num" }, rub(total)))),
  );
}

function linkForm(app, list, messages) {
  const inn = field({
    label: t("innLabel"),
    hint: t("innHint"),
    input: h("input", { name: "supplier_inn", inputmode: "numeric", autocomplete: "off", required: true, maxlength: "12" }),
  });
  const number = field({
    label: t("numberLabel"),
    input: h("input", { name: "account_number", autocomplete: "off", required: true, maxlength: "30" }),
  });
  // Proof of possession (issue 9): the ИПД printed on the bill; the server says whether it takes one.
  const proof = app.config.link_proof
    ? field({ label: t("proofLabel"), hint: t("proofHint"), input: h("input", { name: "proof", autocomplete: "off", maxlength: "40" }) })
    : null;
  const result = h("div", { class: "messages" });
  const submit = h("button", { type: "submit", class: "primary" }, t("linkButton"));
  const intent = new Intent();
  const fields = { supplier_inn: inn, account_number: number, proof };
  const form = h(
    "form",
    {
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        result.replaceChildren();
        for (const f of Object.values(fields)) f?.setError("");
        const body = { supplier_inn: inn.input.value.trim(), account_number: number.input.value.trim() };
        if (!body.supplier_inn) return inn.setError(t("err_required")), inn.input.focus();
        if (!/^\d+$/.test(body.supplier_inn)) return inn.setError(t("err_digits")), inn.input.focus();
        if (!body.account_number) return number.setError(t("err_required")), number.input.focus();
        const given = proof ? proof.input.value.trim() : "";
        if (given) {
          // A sum is what an unconfirmed link already shows, so it proves nothing (issue 16).
          if (parseRub(given) !== null) return proof.setError(t("err_proof_is_sum")), proof.input.focus();
          body.proof = { document_id: given };
        }
        submit.disabled = true;
        try {
          const { body: account } = await intent.send("/v1/me/accounts", body);
          form.reset();
          result.replaceChildren(notice("success", t("linked", { number: account.account_number })));
          await app.loadAccounts();
          showAccounts(app, list);
        } catch (error) {
          const name = problemField(error, {
            invalid_inn: "supplier_inn",
            invalid_identifier: "supplier_inn",
            unknown_supplier: "supplier_inn",
            unknown_account: "account_number",
            invalid_account_number: "account_number",
            link_proof_mismatch: "proof",
            invalid_document_id: "proof",
          });
          const target = fields[name];
          if (target) {
            target.setError(errorText(error));
            target.input.focus();
          } else {
            result.replaceChildren(notice("error", errorText(error)));
          }
        } finally {
          submit.disabled = false;
        }
      },
    },
    h("div", { class: "form-row" }, inn, number, proof),
    submit,
  );
  return h(
    "section",
    { class: "card link", "aria-labelledby": "link-title" },
    h("h2", { id: "link-title" }, t("linkTitle")),
    h("p", {}, t("linkLead")),
    form,
    result,
  );
}
