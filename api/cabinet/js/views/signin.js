// Sign in: through the identity provider where one is configured (and nothing else then); else a
// demo resident (demo mode), a pasted token, or a token handed over by a redirect to /#token=…
// (handled in app.js before any screen shows).
import { h, replace } from "../dom.js";
import { get, post, setToken, tokenClaims } from "../api.js";
import { t } from "../i18n.js";
import { errorText, field, notice } from "../ui.js";

export async function signInView(app, main, outcome) {
  const heading = h("h1", { tabindex: "-1" }, t("signInTitle"));
  const message = h("div", { class: "messages" });
  if (app.flash) {
    message.append(notice("error", app.flash));
    app.flash = null;
  }
  if (outcome === "failed") message.append(notice("error", t("signInFailed")));
  if (app.config.oidc) {
    replace(main, heading, h("p", { class: "lead" }, t("signInLead")), message, providerSection());
    return heading;
  }
  const sections = [];
  if (app.config.demo) sections.push(await demoSection(app, message));
  sections.push(tokenSection(app, message));
  replace(main, heading, h("p", { class: "lead" }, t("signInLead")), message, sections);
  return heading;
}

// A plain link: the server sends the browser on to the provider with a fresh state and nonce.
function providerSection() {
  return h(
    "section",
    { class: "card", "aria-labelledby": "provider-title" },
    h("h2", { id: "provider-title" }, t("providerTitle")),
    h("p", {}, t("providerLead")),
    h("p", { class: "actions" }, h("a", { class: "button primary", id: "provider-sign-in", href: "/auth/login" }, t("providerSignIn"))),
  );
}

async function demoSection(app, message) {
  let residents = [];
  try {
    residents = await get("/cabinet/demo/residents", {}, { fresh: false });
  } catch (error) {
    message.append(notice("error", errorText(error)));
  }
  const list = residents.length
    ? h(
        "ul",
        { class: "residents" },
        residents.map((r) =>
          h(
            "li",
            {},
            h(
              "button",
              { type: "button", class: "resident", "data-payer": r.payer_id, onclick: () => demoSignIn(app, r.payer_id, message) },
              h("span", { class: "resident-name" }, r.payer_id),
              h("span", { class: "resident-meta" }, t("demoAccounts", { n: r.accounts })),
            ),
          ),
        ),
      )
    : h("p", {}, t("demoNone"));
  const other = field({
    label: t("demoOtherLabel"),
    hint: t("demoOtherHint"),
    input: h("input", { name: "payer", autocomplete: "off", required: true, pattern: "[\\w.@\\-]+", maxlength: "100", spellcheck: "false" }),
  });
  const form = h(
    "form",
    {
      class: "inline-form",
      onsubmit: (event) => {
        event.preventDefault();
        const payer = other.input.value.trim();
        if (!payer || !/^[\w.@-]+$/.test(payer)) return other.setError(t("demoOtherHint"));
        demoSignIn(app, payer, message);
      },
    },
    other,
    h("button", { type: "submit" }, t("enter")),
  );
  return h(
    "section",
    { class: "card", "aria-labelledby": "demo-title" },
    h("h2", { id: "demo-title" }, t("demoTitle")),
    h("p", {}, t("demoLead")),
    list,
    h("h3", {}, t("demoOther")),
    form,
  );
}

async function demoSignIn(app, payer, message) {
  try {
    const { body } = await post("/cabinet/demo/sign-in", { payer_id: payer }, null, { auth: false });
    await app.signIn(body.token);
  } catch (error) {
    message.replaceChildren(notice("error", errorText(error)));
  }
}

function tokenSection(app, message) {
  const tokenField = field({
    label: t("tokenLabel"),
    hint: t("tokenHint"),
    input: h("textarea", { name: "token", rows: "3", autocomplete: "off", spellcheck: "false", required: true }),
  });
  const form = h(
    "form",
    {
      onsubmit: async (event) => {
        event.preventDefault();
        const token = tokenField.input.value.trim();
        const claims = token && tokenClaims(token);
        if (!claims) return tokenField.setError(t("tokenBad"));
        if (claims.role !== "resident") return tokenField.setError(t("tokenNotResident"));
        tokenField.setError("");
        try {
          await app.signIn(token);
        } catch (error) {
          setToken(null);
          tokenField.setError(error.status === 401 ? t("tokenBad") : errorText(error));
        }
      },
    },
    tokenField,
    h("button", { type: "submit" }, t("enter")),
  );
  return h(
    "section",
    { class: "card", "aria-labelledby": "token-title" },
    h("h2", { id: "token-title" }, t("tokenTitle")),
    form,
  );
}
