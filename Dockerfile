FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir .
EXPOSE 8000
# Reachable from outside the container, so `kvit serve` turns demo sign-in and the sandbox
# acquirer off here (anyone could sign in as any resident, or approve their own card payments);
# `-e KVIT_CABINET_DEMO_SIGN_IN=true -e KVIT_SANDBOX_ACQUIRER=true` asks for them by name.
CMD ["kvit", "serve", "--host", "0.0.0.0"]
