// The wallet: its balance, opening one, and a top-up by card through the acquirer's page.
import { Intent, get, remove } from "../api.js";
import { facts, h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { parseRub, rub } from "../money.js";
import { poll } from "../poll.js";
import { announce, errorText, field, notice } from "../ui.js";

export async function walletView(app, main) {
  const heading = h("h1", { tabindex: "-1" }, t("walletTitle"));
  const body = h("div", {}, h("p", {}, t("loading")));
  main.replaceChildren(heading, body);
  try {
    await app.loadWallets();
  } catch (error) {
    replace(body, notice("error", errorText(error)));
    return heading;
  }
  show(app, body);
  app.onChange(() => app.loadWallets().then(() => updateBalance(app, body)).catch(() => {}));
  return heading;
}

function show(app, body) {
  const wallet = app.wallet();
  if (!wallet) {
    const messages = h("div", { class: "messages" });
    const intent = new Intent();
    const open = h("button", { type: "button", class: "primary" }, t("walletOpen"));
    open.addEventListener("click", async () => {
      open.disabled = true;
      try {
        await intent.send("/v1/me/wallets", {});
        await app.loadWallets();
        show(app, body);
        body.querySelector(".wallet-balance")?.focus();
      } catch (error) {
        messages.replaceChildren(notice("error", errorText(error)));
      } finally {
        open.disabled = false;
      }
    });
    replace(body, h("p", {}, t("walletNone")), messages, h("p", {}, open));
    return;
  }
  replace(
    body,
    h(
      "section",
      { class: "card", "aria-labelledby": "balance-title" },
      h("h2", { id: "balance-title" }, t("walletBalance")),
      h("p", { class: "wallet-balance", tabindex: "-1", "data-balance": wallet.balance }, rub(wallet.balance)),
    ),
    app.config.card_payments ? topUpForm(app, wallet, body) : h("p", { class: "hint" }, t("topUpUnavailable")),
    app.config.saved_cards ? savedCards() : null,
  );
}

// The resident's saved cards, each removable (at the acquirer first, then here).
function savedCards() {
  const list = h("ul", { class: "saved-cards" });
  const messages = h("div", { class: "messages" });
  const load = async () => {
    const cards = await get("/v1/me/cards");
    if (!cards.items.length) {
      list.replaceChildren(h("li", { class: "hint" }, t("savedCardsNone")));
      return;
    }
    list.replaceChildren(
      ...cards.items.map((c) => {
        const button = h("button", { type: "button" }, t("removeCard"));
        button.addEventListener("click", async () => {
          button.disabled = true;
          try {
            await remove(`/v1/me/cards/${encodeURIComponent(c.card_id)}`);
            messages.replaceChildren(notice("success", t("cardRemoved", { last4: c.last4 })));
            await load();
          } catch (error) {
            messages.replaceChildren(notice("error", errorText(error)));
            button.disabled = false;
          }
        });
        const expires = t("savedCardExpires", { month: c.exp_date.slice(0, 2), year: c.exp_date.slice(2) });
        return h("li", { "data-card": c.card_id }, t("bySavedCard", { last4: c.last4 }), " ", expires, " ", button);
      }),
    );
  };
  load().catch((error) => messages.replaceChildren(notice("error", errorText(error))));
  return h(
    "section",
    { class: "card", "aria-labelledby": "saved-cards-title" },
    h("h2", { id: "saved-cards-title" }, t("savedCardsTitle")),
    list,
    messages,
  );
}

function updateBalance(app, body) {
  const wallet = app.wallet();
  const el = body.querySelector(".wallet-balance");
  if (wallet && el) {
    el.textContent = rub(wallet.balance);
    el.dataset.balance = wallet.balance;
  }
}

function topUpForm(app, wallet, body) {
  const amount = field({
    label: t("amountLabel"),
    input: h("input", { name: "amount", inputmode: "decimal", autocomplete: "off", required: true }),
  });
  const result = h("div", { class: "messages" });
  const submit = h("button", { type: "submit", class: "primary" }, t("topUpButton"));
  const intent = new Intent();
  const form = h(
    "form",
    {
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        if (intent.pending) return;
        amount.setError("");
        const kopecks = parseRub(amount.input.value);
        if (kopecks === null) {
          amount.setError(t("amountBad"));
          amount.input.focus();
          return;
        }
        submit.disabled = true;
        try {
          const { body: topUp } = await intent.send(`/v1/wallets/${wallet.id}/top-ups`, { amount: kopecks });
          const before = app.wallet().balance;
          result.replaceChildren(
            notice(
              "info",
              h("p", {}, t("topUpWaiting", { amount: rub(topUp.amount) })),
              topUp.checkout_url
                ? h("p", {}, h("a", { class: "button primary", href: topUp.checkout_url, target: "_blank", rel: "noopener", id: "checkout-link" }, t("goToCard")))
                : null,
              h("p", { class: "hint" }, t("goToCardHint")),
            ),
          );
          watchBalance(app, wallet.id, before, () => {
            updateBalance(app, body);
            const done = t("topUpDone", { balance: rub(app.wallet().balance) });
            result.replaceChildren(notice("success", done));
            announce(done);
          });
        } catch (error) {
          result.replaceChildren(notice("error", errorText(error)));
        } finally {
          submit.disabled = false;
        }
      },
    },
    amount,
    submit,
  );
  return h(
    "section",
    { class: "card", "aria-labelledby": "top-up-title" },
    h("h2", { id: "top-up-title" }, t("topUpTitle")),
    form,
    result,
  );
}

// A top-up is credited when the acquirer calls the webhook; ask until the balance moves.
function watchBalance(app, walletId, before, onCredited) {
  poll(async () => {
    const wallet = await get(`/v1/wallets/${walletId}`, {}, { fresh: false });
    if (wallet.balance === before) return false;
    await app.loadWallets();
    onCredited();
    return true;
  });
}
