// Payment history: newest first, filters by billing period and status, paged by cursor. It
// re-reads by itself when a payment settles (app.changed), so no reload is ever needed.
import { get } from "../api.js";
import { h, replace } from "../dom.js";
import { date, period, t } from "../i18n.js";
import { rub } from "../money.js";
import { errorText, field, notice, paymentBadge, paymentReceipt } from "../ui.js";

const RECEIPTS = new Set(["succeeded", "partially_refunded", "refunded"]);

const STATUSES = ["succeeded", "processing", "requires_confirmation", "failed", "canceled", "partially_refunded", "refunded"];
const PAGE = 10;
const filters = { period: "", status: "" }; // kept while the tab lives

export async function historyView(app, main) {
  const heading = h("h1", { tabindex: "-1" }, t("historyTitle"));
  const list = h("ol", { class: "payments", "aria-labelledby": "history-count" });
  const count = h("p", { id: "history-count", class: "count", "aria-live": "polite" });
  const more = h("button", { type: "button", class: "more", hidden: true }, t("more"));
  const messages = h("div", { class: "messages" });
  let cursor = null;
  let shown = 0;

  async function load(reset) {
    const params = { limit: PAGE, period: filters.period, status: filters.status };
    if (!reset) params.cursor = cursor;
    more.disabled = true;
    try {
      const page = await get("/v1/me/payments", params);
      if (reset) {
        list.replaceChildren();
        shown = 0;
      }
      list.append(...page.items.map(paymentItem));
      shown += page.items.length;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      replace(count, shown ? t("historyCount", { n: shown }) : t("noPayments"));
      messages.replaceChildren();
    } catch (error) {
      messages.replaceChildren(notice("error", errorText(error)));
    } finally {
      more.disabled = false;
    }
  }

  more.addEventListener("click", async () => {
    const first = list.children.length;
    await load(false);
    list.children[first]?.focus();
  });
  app.onChange(() => load(true));

  const accounts = await app.loadAccounts().catch(() => app.accounts || []);
  main.replaceChildren(heading, filterForm(billedPeriods(accounts), () => load(true)), messages, count, list, more);
  await load(true);
  return heading;
}

// The months the resident's accounts have bills for, newest first: what the filter offers.
function billedPeriods(accounts) {
  const periods = new Set(accounts.flatMap((account) => (account.bills || []).map((bill) => bill.period)));
  if (filters.period) periods.add(filters.period);
  return [...periods].sort().reverse();
}

function filterForm(periods, apply) {
  // A list of named months, not a month input: Chromium shows an empty one as "--------- ----".
  const periodField = field({
    label: t("period"),
    input: h(
      "select",
      { name: "period" },
      h("option", { value: "" }, t("allPeriods")),
      periods.map((p) => h("option", { value: p, selected: filters.period === p }, period(p))),
    ),
  });
  const status = h(
    "select",
    { name: "status" },
    h("option", { value: "" }, t("allStatuses")),
    STATUSES.map((s) => h("option", { value: s, selected: filters.status === s }, t(`status_${s}`))),
  );
  const statusField = field({ label: t("statusLabel"), input: status });
  const form = h(
    "form",
    {
      class: "filters",
      role: "search",
      onsubmit: (event) => {
        event.preventDefault();
        filters.period = periodField.input.value;
        filters.status = status.value;
        apply();
      },
    },
    h("h2", { class: "visually-hidden" }, t("filters")),
    periodField,
    statusField,
    h(
      "div",
      { class: "filter-actions" },
      h("button", { type: "submit" }, t("apply")),
      h(
        "button",
        {
          type: "button",
          onclick: () => {
            filters.period = "";
            filters.status = "";
            form.reset();
            periodField.input.value = "";
            status.value = "";
            apply();
          },
        },
        t("reset"),
      ),
    ),
  );
  return form;
}

function paymentItem(p) {
  return h(
    "li",
    { class: `payment payment-${p.status}`, tabindex: "-1", "data-payment": p.id, "data-status": p.status },
    h(
      "div",
      { class: "payment-main" },
      h("strong", { class: "payment-amount" }, rub(p.amount)),
      " ",
      paymentBadge(p.status),
    ),
    h(
      "p",
      { class: "payment-meta" },
      [
        date(p.created_at),
        t(`method_${p.method}`),
        p.recipient_name,
        `${t("account", { number: p.account_number })}`,
        p.period ? period(p.period) : null,
        p.refunded ? t("refunded", { amount: rub(p.refunded) }) : null,
      ]
        .filter(Boolean)
        .join(" · "),
    ),
    RECEIPTS.has(p.status) ? paymentReceipt(p.id) : null,
  );
}
