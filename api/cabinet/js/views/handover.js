// A token handed over by a link (/#token=…): who it would sign in, who is signed in now, and
// the resident's choice. Nothing changes until they choose to sign in (app.js: start).
import { session, tokenClaims } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { button, errorText, notice } from "../ui.js";

export function handOverView(app, main) {
  const heading = h("h1", { tabindex: "-1" }, t("handOverTitle"));
  const claims = tokenClaims(app.handOver);
  const current = session.token ? app.payer : null;
  const message = h("div", { class: "messages" });
  const decline = button(current ? t("handOverStay", { payer: current }) : t("handOverDecline"), {
    onclick: () => app.declineHandOver(),
  });
  if (!claims?.sub || claims.role !== "resident") {
    message.append(notice("error", claims?.sub ? t("tokenNotResident") : t("tokenBad")));
    replace(main, heading, message, h("p", { class: "actions" }, decline));
    return heading;
  }
  const accept = button(t("handOverAccept", { payer: claims.sub }), {
    class: "primary",
    onclick: async () => {
      accept.disabled = true;
      try {
        await app.acceptHandOver();
      } catch (error) {
        message.replaceChildren(notice("error", error.status === 401 ? t("tokenBad") : errorText(error)));
        accept.disabled = false;
      }
    },
  });
  replace(
    main,
    heading,
    h("p", { class: "lead" }, t("handOverLead", { payer: claims.sub })),
    current ? h("p", {}, t("handOverCurrent", { payer: current })) : null,
    h("p", {}, t("handOverWarn")),
    message,
    h("p", { class: "actions" }, accept, " ", decline),
  );
  return heading;
}
