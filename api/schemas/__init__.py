"""Request and response bodies, one module per resource. Amounts are integer kopecks;
unknown fields of a request are rejected (`common.Strict`)."""
