// Card operations settle when the acquirer calls the webhook, not in answer to anything the page
// sent, so the page asks until they have: `check` every `every` ms until it returns true or
// `forMs` has passed. A failed check is a blip: the next one asks again.
export function poll(check, { every = 1000, forMs = 15 * 60 * 1000 } = {}) {
  const until = Date.now() + forMs;
  const tick = async () => {
    let done = false;
    try {
      done = await check();
    } catch {
      done = false;
    }
    if (!done && Date.now() < until) setTimeout(tick, every);
  };
  setTimeout(tick, every);
}
