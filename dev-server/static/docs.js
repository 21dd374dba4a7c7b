// The documentation page's settings (a file, not an inline script: the page's CSP allows
// scripts from this server only). Everything Scalar would fetch or send elsewhere is off; its
// test requests go to this dev server, same-origin. (Scalar 1.72 still asks for its web fonts
// from its own host before `withDefaultFonts` applies: the CSP refuses them, and the page uses
// system fonts.)
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
