// The resident's cabinet: a hash router over five screens, one shared state, no framework.
import { get, session, setToken, tokenClaims } from "./api.js";
import { h, replace } from "./dom.js";
import { lang, setLang, t } from "./i18n.js";
import { announce } from "./ui.js";
import { accountsView } from "./views/accounts.js";
import { historyView } from "./views/history.js";
import { payView } from "./views/pay.js";
import { signInView } from "./views/signin.js";
import { walletView } from "./views/wallet.js";

const ROUTES = { accounts: accountsView, pay: payView, history: historyView, wallet: walletView };

const app = {
  config: { demo: false, sandbox_acquirer: false },
  payer: null,
  flash: null,
  signingIn: false,
  accounts: null,
  wallets: null,
  listeners: new Set(),

  async signIn(token) {
    setToken(token);
    this.signingIn = true;
    try {
      await this.loadAccounts(); // a bad token answers 401 here, before any screen changes
    } catch (error) {
      setToken(null);
      throw error;
    } finally {
      this.signingIn = false;
    }
    this.payer = tokenClaims(token)?.sub ?? null;
    if (location.hash.startsWith("#/accounts")) render();
    else location.hash = "#/accounts";
  },

  signOut(flash = null) {
    setToken(null);
    this.payer = null;
    this.accounts = null;
    this.wallets = null;
    this.flash = flash;
    if (location.hash === "#/sign-in") render();
    else location.hash = "#/sign-in";
  },

  async loadAccounts() {
    this.accounts = (await get("/v1/me/accounts")).items;
    return this.accounts;
  },

  async loadWallets() {
    this.wallets = (await get("/v1/me/wallets")).items;
    return this.wallets;
  },

  wallet() {
    return this.wallets && this.wallets.length ? this.wallets[0] : null;
  },

  // Something changed behind the page's back (a card payment settled): the screen on show
  // re-reads what it needs.
  changed(what) {
    for (const listener of [...this.listeners]) listener(what);
  },

  onChange(listener) {
    this.listeners.add(listener);
  },
};

session.onUnauthorized = () => {
  if (!app.signingIn) app.signOut(t("sessionExpired"));
};

function route() {
  const [name, ...args] = location.hash.replace(/^#\/?/, "").split("/");
  return { name: name || "accounts", args: args.map(decodeURIComponent) };
}

function header() {
  const current = route().name;
  const link = (name, text) =>
    h("a", { href: `#/${name}`, "aria-current": current === name || (name === "accounts" && current === "pay") ? "page" : false }, text);
  const signedIn = Boolean(session.token);
  document.title = t("title");
  document.getElementById("skip").textContent = t("skip");
  replace(
    document.getElementById("top"),
    h("p", { class: "brand" }, h("span", { class: "brand-name" }, t("brand")), " ", h("span", { class: "brand-sub" }, t("brandSub"))),
    signedIn
      ? h(
          "nav",
          { "aria-label": t("navLabel") },
          h("ul", {}, h("li", {}, link("accounts", t("navAccounts"))), h("li", {}, link("history", t("navHistory"))), h("li", {}, link("wallet", t("navWallet")))),
        )
      : null,
    h(
      "div",
      { class: "tools" },
      signedIn && app.payer ? h("span", { class: "who" }, t("signedInAs", { payer: app.payer })) : null,
      h("button", { type: "button", id: "lang", lang: lang() === "ru" ? "en" : "ru", onclick: switchLang }, t("switchLang")),
      signedIn ? h("button", { type: "button", id: "sign-out", onclick: () => app.signOut() }, t("signOut")) : null,
    ),
  );
}

function switchLang() {
  setLang(lang() === "ru" ? "en" : "ru");
  render({ focus: false });
  document.getElementById("lang").focus();
}

let renders = 0;

async function render({ focus = true } = {}) {
  const ticket = ++renders;
  app.listeners.clear();
  header();
  const main = document.getElementById("main");
  const { name, args } = route();
  let view = ROUTES[name];
  if (!session.token) view = signInView;
  else if (!view) view = accountsView;
  main.setAttribute("aria-busy", "true");
  try {
    const heading = await view(app, main, ...args);
    if (ticket === renders && focus && heading) heading.focus();
  } finally {
    main.removeAttribute("aria-busy");
  }
}

// An identity provider hands a token over by redirecting to /#token=<JWT>: keep it for this
// tab's session and take it out of the address bar (and so out of the history).
function tokenFromRedirect() {
  const match = /^#token=([^&]+)/.exec(location.hash);
  if (!match) return null;
  history.replaceState(null, "", `${location.pathname}${location.search}#/accounts`);
  return decodeURIComponent(match[1]);
}

async function start() {
  setLang(lang());
  try {
    app.config = await get("/cabinet/config.json", {}, { fresh: false });
  } catch {
    // The page still works without the demo sign-in.
  }
  const handed = tokenFromRedirect();
  if (handed) setToken(handed);
  if (session.token) {
    app.payer = tokenClaims(session.token)?.sub ?? null;
  }
  window.addEventListener("hashchange", () => render());
  await render({ focus: false });
  if (handed) announce(t("signedInAs", { payer: app.payer ?? "" }));
}

start();
