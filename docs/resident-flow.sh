#!/usr/bin/env bash
# The resident's flow through the HTTP API, as shown in the README. Needs a running
# `kvit serve` (at KVIT_URL, default http://127.0.0.1:8000) and `kvit`, `curl` and `jq` on the
# PATH.
set -euo pipefail
BASE=${KVIT_URL:-http://127.0.0.1:8000}
OP="Authorization: Bearer $(kvit token --role operator)"
ME="Authorization: Bearer $(kvit token --role resident --payer anna)"
JSON="Content-Type: application/json"
show() { echo "\$ $*" | sed -E 's/Bearer [^"]+/Bearer …/'; "$@"; echo; }

# The operator registers the supplier, opens the personal account and issues the bill.
SUPPLIER=$(curl -s "$BASE/v1/suppliers" -H "$OP" -H "$JSON" -H "Idempotency-Key: sup-1" -d '{
  "inn": "7701234560", "kpp": "770101001", "name": "ООО \"УК Пример\"",
  "requisites": {"bik": "044525225", "settlement_account": "40702810138250123017",
                 "correspondent_account": "30101810400000000225", "bank_name": "ПАО СБЕРБАНК"}}' | jq -r .id)
ACCOUNT=$(curl -s "$BASE/v1/accounts" -H "$OP" -H "$JSON" -H "Idempotency-Key: acc-1" \
  -d "{\"supplier_id\": \"$SUPPLIER\", \"account_number\": \"0667000001\", \"els\": \"70АА000560\",
       \"address\": \"г. Москва, ул. Примерная, д. 1, кв. 1\"}" | jq -r .id)
curl -s "$BASE/v1/accounts/$ACCOUNT/bills" -H "$OP" -H "$JSON" -H "Idempotency-Key: bill-1" -d '{
  "document_id": "70АА000560-01-6031", "period": "2026-03", "due_date": "2026-04-15",
  "lines": [{"service": "Отопление", "amount": 412300}, {"service": "Холодная вода", "amount": 111117}]}' >/dev/null

echo "# 1. Link the personal account by the supplier's ИНН and the account number; the ИПД"
echo "#    printed on the bill proves it is yours (without it: a masked address and the due only)"
show curl -s "$BASE/v1/me/accounts" -H "$ME" -H "$JSON" -H "Idempotency-Key: link-1" \
  -d '{"supplier_inn": "7701234560", "account_number": "0667000001",
       "proof": {"document_id": "70АА000560-01-6031"}}'

echo "# 2. See the bill and what is due"
show curl -s "$BASE/v1/me/accounts" -H "$ME"

echo "# 3. Open a wallet and top it up by card (the sandbox acquirer approves)"
WALLET=$(curl -s -X POST "$BASE/v1/me/wallets" -H "$ME" -H "Idempotency-Key: wallet-1" | jq -r .id)
TOPUP=$(curl -s "$BASE/v1/wallets/$WALLET/top-ups" -H "$ME" -H "$JSON" -H "Idempotency-Key: top-1" \
  -d '{"amount": 600000}')
echo "$TOPUP"
curl -s "$(echo "$TOPUP" | jq -r .checkout_url)" -d "decision=approve&amount=600000" >/dev/null
show curl -s "$BASE/v1/wallets/$WALLET" -H "$ME"

echo "# 4. Pay the bill from the wallet (amount defaults to what is due on the bill)"
show curl -s "$BASE/v1/payments" -H "$ME" -H "$JSON" -H "Idempotency-Key: pay-1" \
  -d "{\"account_id\": \"$ACCOUNT\", \"document_id\": \"70АА000560-01-6031\",
       \"method\": \"wallet\", \"wallet_id\": \"$WALLET\", \"confirm\": true}"

echo "# 5. The history shows it at once"
show curl -s "$BASE/v1/me/payments" -H "$ME"

echo "# 6. A retry with the same key returns the original payment; nothing is paid twice"
show curl -s -o /dev/null -w "%{http_code} replayed=%header{idempotent-replayed}\n" \
  "$BASE/v1/payments" -H "$ME" -H "$JSON" -H "Idempotency-Key: pay-1" \
  -d "{\"account_id\": \"$ACCOUNT\", \"document_id\": \"70АА000560-01-6031\",
       \"method\": \"wallet\", \"wallet_id\": \"$WALLET\", \"confirm\": true}"
show curl -s "$BASE/v1/wallets/$WALLET" -H "$ME"
