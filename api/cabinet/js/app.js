// The resident's cabinet: a hash router over five screens, one shared state, no framework.
import { get, post, session, setCookieSession, setToken, signedIn, tokenClaims } from "./api.js";
import { h, replace } from "./dom.js";
import { lang, setLang, t } from "./i18n.js";
import { announce } from "./ui.js";
import { accountsView } from "./views/accounts.js";
import { handOverView } from "./views/handover.js";
import { historyView } from "./views/history.js";
import { payView } from "./views/pay.js";
import { signInView } from "./views/signin.js";
import { walletView } from "./views/wallet.js";

const ROUTES = { accounts: accountsView, pay: payView, history: historyView, wallet: walletView };

const app = {
  config: { demo: false, sandbox_acquirer: false, card_payments: false },
  payer: null,
  handOver: null, // a token a link handed over, kept in memory until the resident decides
  flash: null,
  signingIn: false,
  accounts: null,
  wallets: null,
  listeners: new Set(),

  async signIn(token) {
    const previous = session.token;
    setToken(token);
    this.signingIn = true;
    try {
      await this.loadAccounts(); // a bad token answers 401 here, before any screen changes
    } catch (error) {
      setToken(previous); // a refused token leaves the session as it was
      throw error;
    } finally {
      this.signingIn = false;
    }
    this.payer = tokenClaims(token)?.sub ?? null;
    if (location.hash.startsWith("#/accounts")) render();
    else location.hash = "#/accounts";
  },

  // The resident chose to sign in with the handed-over token; on a refused one the question
  // stays, and so does the session.
  async acceptHandOver() {
    const token = this.handOver;
    this.handOver = null;
    try {
      await this.signIn(token);
    } catch (error) {
      this.handOver = token;
      throw error;
    }
    announce(t("signedInAs", { payer: this.payer ?? "" }));
  },

  declineHandOver() {
    this.handOver = null;
    render();
  },

  // Signed in through the identity provider: end the session here, then at the provider (its
  // page sends the browser back to the cabinet).
  async signOut(flash = null) {
    if (session.csrf) {
      let redirect = "/";
      try {
        redirect = (await post("/auth/logout")).body.redirect;
      } catch {
        // The session may have ended already; the provider's page is still the way out.
      }
      this.endSession(flash);
      location.assign(redirect);
      return;
    }
    this.endSession(flash);
  },

  endSession(flash = null) {
    setToken(null);
    setCookieSession(null);
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
  if (!app.signingIn) app.endSession(t("sessionExpired"));
};

function route() {
  const [name, ...args] = location.hash.replace(/^#\/?/, "").split("/");
  return { name: name || "accounts", args: args.map(decodeURIComponent) };
}

function header() {
  const current = route().name;
  const link = (name, text) =>
    h("a", { href: `#/${name}`, "aria-current": current === name || (name === "accounts" && current === "pay") ? "page" : false }, text);
  const signed = signedIn();
  document.title = t("title");
  document.getElementById("skip").textContent = t("skip");
  replace(
    document.getElementById("top"),
    h("p", { class: "brand" }, h("span", { class: "brand-name" }, t("brand")), " ", h("span", { class: "brand-sub" }, t("brandSub"))),
    signed
      ? h(
          "nav",
          { "aria-label": t("navLabel") },
          h("ul", {}, h("li", {}, link("accounts", t("navAccounts"))), h("li", {}, link("history", t("navHistory"))), h("li", {}, link("wallet", t("navWallet")))),
        )
      : null,
    h(
      "div",
      { class: "tools" },
      // A long payer id (a UUID from OpenID Connect sign-in) is cut short; the title has it whole.
      signed && app.payer ? h("span", { class: "who", title: t("signedInAs", { payer: app.payer }) }, t("signedInAs", { payer: app.payer })) : null,
      h("button", { type: "button", id: "lang", lang: lang() === "ru" ? "en" : "ru", "aria-label": `${t("switchLangShort")} — ${t("switchLang")}`, title: t("switchLang"), onclick: switchLang }, t("switchLangShort")),
      signed ? h("button", { type: "button", id: "sign-out", onclick: () => app.signOut() }, t("signOut")) : null,
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
  if (app.handOver) view = handOverView;
  else if (!signedIn()) view = signInView;
  else if (!view) view = accountsView;
  main.setAttribute("aria-busy", "true");
  try {
    const heading = await view(app, main, ...args);
    if (ticket === renders && focus && heading) heading.focus();
  } finally {
    main.removeAttribute("aria-busy");
  }
}

// An identity provider hands a token over by redirecting to /#token=<JWT>. Nothing proves that
// this tab asked for it (OpenID Connect's `state` will), so a link from anyone could sign the tab
// in as them, and the resident would then pay and link their own account in that cabinet
// (login CSRF). So the token leaves the address bar (and the history) at once, stays in memory
// only, and is used only when the resident, shown whom it signs in, says so (views/handover.js).
function tokenFromRedirect() {
  const match = /^#token=([^&]+)/.exec(location.hash);
  if (!match) return null;
  history.replaceState(null, "", `${location.pathname}${location.search}#/accounts`);
  return decodeURIComponent(match[1]);
}

// With an identity provider the cabinet signs in only through it: a /#token= link is dropped
// unread, so no link can sign this tab in as anyone (OpenID Connect's `state` proves who asked).
function dropRedirectToken() {
  if (/^#token=/.test(location.hash)) history.replaceState(null, "", `${location.pathname}${location.search}#/sign-in`);
  return null;
}

// Ask about a handed-over token (see above), unless it names whoever is signed in already.
async function receive(handed) {
  if (session.token && tokenClaims(handed)?.sub === app.payer) {
    // A fresh token for whoever is signed in: no one's identity changes, nothing to ask.
    await app.signIn(handed).catch(() => render({ focus: false }));
    return;
  }
  app.handOver = handed;
  await render({ focus: false });
}

async function start() {
  setLang(lang());
  try {
    app.config = await get("/cabinet/config.json", {}, { fresh: false });
  } catch {
    // The page still works without the demo sign-in; card payments stay hidden.
  }
  const fromRedirect = app.config.oidc ? dropRedirectToken : tokenFromRedirect;
  if (app.config.oidc) {
    setToken(null); // the session cookie is the only sign-in here
    try {
      const current = await get("/auth/session", {}, { fresh: false });
      if (current.signed_in) {
        setCookieSession(current.csrf_token);
        app.payer = current.payer_id;
      }
    } catch {
      // Signed out; the sign-in page says what to do.
    }
  } else if (session.token) {
    app.payer = tokenClaims(session.token)?.sub ?? null;
  }
  // A link to /#token=… opened in this very page changes only the fragment: no reload.
  window.addEventListener("hashchange", () => {
    const handed = fromRedirect();
    if (handed) receive(handed);
    else render();
  });
  const handed = fromRedirect();
  if (handed) await receive(handed);
  else await render({ focus: false });
}

start();
