"""Card acquiring: the interface Kvit needs from an acquirer, and a built-in sandbox."""
