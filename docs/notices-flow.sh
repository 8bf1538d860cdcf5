#!/usr/bin/env bash
# Bills in their real formats, as shown in the README: a bill's QR code, paying by scanning it,
# a bank's notice register imported (with its rejects), an annulment. Needs a running
# `kvit serve` (at KVIT_URL, default http://127.0.0.1:8000) and `kvit`, `curl`, `jq` and
# `iconv` on the PATH.
set -euo pipefail
BASE=${KVIT_URL:-http://127.0.0.1:8000}
OP="Authorization: Bearer $(kvit token --role operator 2>/dev/null)"
ME="Authorization: Bearer $(kvit token --role resident --payer vera 2>/dev/null)"
JSON="Content-Type: application/json"
# A fresh private scratch directory of our own, gone when the script ends (a fixed name in /tmp
# could be anyone's, or a symlink to anything).
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kvit-register.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
show() { echo "\$ $*" | sed -E 's/Bearer [^"]+/Bearer …/'; "$@"; echo; }

# The operator registers the supplier, opens two personal accounts and issues a bill.
SUPPLIER=$(curl -s "$BASE/v1/suppliers" -H "$OP" -H "$JSON" -H "Idempotency-Key: n-sup-1" -d '{
  "inn": "7707083893", "kpp": "773601001", "name": "ООО \"УК Заречье\"",
  "requisites": {"bik": "044525225", "settlement_account": "40702810138250123017",
                 "correspondent_account": "30101810400000000225", "bank_name": "ПАО СБЕРБАНК"}}' | jq -r .id)
for n in 1 2; do
  curl -s "$BASE/v1/accounts" -H "$OP" -H "$JSON" -H "Idempotency-Key: n-acc-$n" \
    -d "{\"supplier_id\": \"$SUPPLIER\", \"account_number\": \"Z-00$n\", \"els\": \"77ВВ00000$n\",
         \"address\": \"г. Москва, ул. Речная, д. 3, кв. $n\"}" > "$WORK/account-$n.json"
done
ACCOUNT=$(jq -r .id "$WORK/account-1.json")
curl -s "$BASE/v1/accounts/$ACCOUNT/bills" -H "$OP" -H "$JSON" -H "Idempotency-Key: n-bill-1" -d '{
  "document_id": "77ВВ000001-01-6031", "period": "2026-03", "due_date": "2026-04-15",
  "lines": [{"service": "Отопление", "amount": 412300}, {"service": "Холодная вода", "amount": 111117}]}' >/dev/null

echo "# 1. The bill's ГОСТ Р 56042 payload (the same code as SVG or PNG without ?format=text)"
show curl -s "$BASE/v1/bills/77ВВ000001-01-6031/qr?format=text"  -H "$ME"
PAYLOAD=$(curl -s "$BASE/v1/bills/77ВВ000001-01-6031/qr?format=text" -H "$ME")

echo "# 2. What a scan would pay, without paying"
jq -n --arg p "$PAYLOAD" '{qr_payload: $p}' > "$WORK/scan.json"
show curl -s "$BASE/v1/qr:resolve" -H "$ME" -H "$JSON" -d @"$WORK/scan.json"

echo "# 3. A payload printed before the supplier changed its account is refused"
OLD=${PAYLOAD/40702810138250123017/40702810838250123016}
jq -n --arg p "$OLD" '{qr_payload: $p, method: "card"}' > "$WORK/old.json"
show curl -s "$BASE/v1/payments" -H "$ME" -H "$JSON" -H "Idempotency-Key: n-old-1" -d @"$WORK/old.json"

echo "# 4. Pay by scanning the code (by card, through the sandbox acquirer)"
jq -n --arg p "$PAYLOAD" '{qr_payload: $p, method: "card", amount: 100000, confirm: true}' \
  > "$WORK/pay.json"
show curl -s "$BASE/v1/payments" -H "$ME" -H "$JSON" -H "Idempotency-Key: n-scan-1" -d @"$WORK/pay.json"

echo "# 5. A bank's register: payments by account number, by ИПД and by ЕЛС, one re-sent line,"
echo "#    one with a bad amount, one for an unknown account, one OrderID re-used"
cat > "$WORK/register.csv" <<'CSV'
order_id;order_date;amount;payer;recipient_inn;recipient_kpp;bik;settlement_account;document_id;housing_id;els;account_number;period;purpose;action
10445252250000001503202600000001;15.03.2026;1500,00;Иванов И. И.;7707083893;773601001;044525225;40702810138250123017;;;;Z-001;2026-03;ЖКУ за март;
10445252250000001503202600000002;15.03.2026;2 000,50;Петрова А. А.;7707083893;;044525225;;77ВВ000001-01-6031;;;;;ЖКУ;
10445252250000001503202600000003;15.03.2026;700,00;;7707083893;;;;;;77ВВ000002;;;ЖКУ;
10445252250000001503202600000001;15.03.2026;1500,00;Иванов И. И.;7707083893;773601001;044525225;40702810138250123017;;;;Z-001;2026-03;ЖКУ за март;
10445252250000001503202600000004;15.03.2026;12,345;;7707083893;;;;;;;Z-001;;;
10445252250000001503202600000005;15.03.2026;300,00;;7707083893;;;;;;;Z-999;;;
10445252250000001503202600000003;15.03.2026;7000,00;;7707083893;;;;;;77ВВ000002;;;ЖКУ;
CSV
iconv -f utf-8 -t cp1251 "$WORK/register.csv" > "$WORK/register-cp1251.csv"  # as banks send them
show kvit notices import "$WORK/register-cp1251.csv" --rejects "$WORK/rejects.csv"
show cat "$WORK/rejects.csv"

echo "# 6. The same file again changes nothing"
show kvit notices import "$WORK/register-cp1251.csv" --json --rejects "$WORK/rejects-2.csv"

echo "# 7. The bank annuls a notice: its postings are reversed by a new event"
echo '{"order_id": "10445252250000001503202600000002", "annul_date": "20.03.2026"}' > "$WORK/annul.json"
show curl -s -D "$WORK/headers" "$BASE/v1/notices/annulments" -H "$OP" -H "$JSON" -d @"$WORK/annul.json"
POS=$(tr -d '\r' < "$WORK/headers" | awk -F': ' 'tolower($1)=="kvit-position"{print $2}')

echo "# 8. The account's balance: the two notices paid it, the annulment took one back"
show curl -s "$BASE/v1/accounts/$ACCOUNT?min_position=$POS" -H "$OP"
