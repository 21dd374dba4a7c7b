// A plain JavaScript Worker, no authfn: what wrangler dev's local workerd grows by per request
// when a Worker answers at once (/), reads one KV key and one D1 row (/store), or writes both
// (/write). bench/workerd_rss_baseline.sh runs it; bench/soak.sh cites it for why workerd's RSS
// is reported, not judged.
export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    if (path === "/store") {
      const [v, row] = await Promise.all([env.KV.get("k"), env.DB.prepare("select 1 as one").first()]);
      return Response.json({ error: "unauthenticated", v, row }, { status: 401 });
    }
    if (path === "/write") {
      const id = crypto.randomUUID();
      await env.KV.put("k" + id, "v", { expirationTtl: 3600 });
      await env.DB.prepare("create table if not exists t (id text primary key, n integer)").run();
      await env.DB.prepare("insert into t values (?1, 1) on conflict(id) do update set n = n + 1").bind(id).run();
      return Response.json({ ok: true });
    }
    if (path === "/ok") return new Response("ok");
    return Response.json({ error: "unauthenticated" }, { status: 401 });
  },
};
