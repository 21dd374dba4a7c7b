// The documentation page's settings (a file, not an inline script: the page's CSP allows
// scripts from this server only). Everything Scalar would fetch or send elsewhere is off; its
// test requests go to this dev server, same-origin.
Scalar.createApiReference('#api-reference', {
  url: '/openapi.yaml',
  servers: [{ url: window.location.origin, description: 'this dev server' }],
  operationTitleSource: 'path',
  withDefaultFonts: false,
  telemetry: false,
  showDeveloperTools: 'never',
  agent: { disabled: true },
  mcp: { disabled: true },
  documentDownloadType: 'yaml',
});
