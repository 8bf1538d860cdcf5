"""ГОСТ Р 56042 payment QR codes (payload.py), a bill's QR (bill.py) and who a payment pays
(payee.py: by QR or by requisites)."""
