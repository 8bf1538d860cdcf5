// Money is integer kopecks everywhere; only these two functions speak roubles.
import { locale } from "./i18n.js";

export function rub(kopecks) {
  return new Intl.NumberFormat(locale(), { style: "currency", currency: "RUB" }).format(kopecks / 100);
}

// For an input's value: "5 234,17", no currency sign, so it parses back.
export function rubInput(kopecks) {
  const whole = Math.floor(kopecks / 100);
  const cents = String(kopecks % 100).padStart(2, "0");
  return cents === "00" ? String(whole) : `${whole},${cents}`;
}

// "5 234,17", "5234.17" or "5234" -> 523417; anything else -> null. Parsed as text, never as a
// float, so no kopeck is lost to rounding.
export function parseRub(text) {
  const plain = String(text).replace(/[\s\u00a0\u202f₽]/g, "").replace(",", ".");
  const match = /^(\d{1,10})(?:\.(\d{1,2}))?$/.exec(plain);
  if (!match) return null;
  const kopecks = Number(match[1]) * 100 + Number((match[2] || "0").padEnd(2, "0"));
  return kopecks > 0 ? kopecks : null;
}
