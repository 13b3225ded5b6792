import type { SitePlan } from './plan.js';

/**
 * The nginx configuration of an exported site (nginx ≥ 1.18; Debian's nginx-light has every module it uses):
 * `site.conf` is what goes in `http {}` (sites-enabled): maps and one server block; `nginx.conf` is a whole
 * configuration around it for a quick start (`nginx -p DIR -c nginx.conf`). Static files go out with sendfile.
 *
 * The Hub endpoints need what a static server does not do by itself: the resolve URLs carry the Hub's ETag,
 * X-Repo-Commit, X-Linked-Etag and X-Linked-Size (maps keyed by the URI); tree listings answer `?recursive=true`
 * from their own file; `POST …/paths-info/{rev}` (what @huggingface/hub asks before each download) is turned into
 * a GET of that file's answer by passing the request body on as a header to nginx itself.
 */
export function siteConf(plan: SitePlan, o: { root: string; listen: string }): string {
  // nginx's map keys are case-insensitive: of two URIs that differ only in case, the first gets the headers.
  const keys = new Set<string>();
  const resolve = plan.entries.filter((e) => {
    const k = e.url.toLowerCase();
    if (!e.headers?.['X-Repo-Commit'] || !nginxSafe(e.url) || keys.has(k)) return false;
    keys.add(k);
    return true;
  });
  const map = (name: string, value: (e: (typeof resolve)[number]) => string) =>
    [`map $uri ${name} {`, '    default "";', ...resolve.map((e) => `    ${q(`/${e.url}`)} ${q(value(e))};`), '}'].join('\n');
  return `# ${plan.name} ${plan.version}: written by vault-bundle export --site. Include it in http {} (needs
# map_hash_bucket_size 256 and a map_hash_max_size over ${resolve.length * 2}, as nginx.conf beside it sets).
${map('$vb_hf_etag', (e) => `"${e.etag}"`)}
${map('$vb_hf_commit', (e) => e.headers!['X-Repo-Commit']!)}
${map('$vb_hf_size', (e) => e.headers!['X-Linked-Size']!)}
map $arg_recursive $vb_hf_tree {
    default index.json;
    true recursive.json;
    1 recursive.json;
}
# PEP 691: the simple index's JSON form when the Accept header names it (with a q above 0), else HTML.
map $http_accept $vb_simple_index {
    default index.html;
    "~*application/vnd\\.pypi\\.simple\\.(v1|latest)\\+json\\s*;\\s*q\\s*=\\s*0(\\.0*)?\\s*(,|$)" index.html;
    "~*application/vnd\\.pypi\\.simple\\.(v1|latest)\\+json" index.json;
}
map $http_x_vb_paths_info $vb_hf_path {
    default "";
    "~\\"paths\\":\\s*\\[\\s*\\"(?<p>[^\\"]+)\\"\\s*\\]" $p;
}

${serverBlock(o)}`;
}

/** A whole nginx configuration for the site, run as `nginx -p <site> -c nginx.conf` (add `-g 'daemon off;'` to stay in front). */
export function nginxConf(o: { siteConf: string; pid?: string }): string {
  return `# Written by vault-bundle export --site: nginx -p <this folder> -c nginx.conf
worker_processes auto;
pid ${o.pid ?? 'nginx.pid'};
error_log stderr warn;
events { worker_connections 1024; }
http {
    access_log off;
    map_hash_bucket_size 256;
    map_hash_max_size 1048576;
    client_body_temp_path /tmp;
    proxy_temp_path /tmp;
    include ${o.siteConf};
}
`;
}

/** URIs that go into the maps as they are; others (quotes, control characters) are served without the Hub headers. */
function nginxSafe(url: string): boolean {
  return /^[\w.~+@=,:%/-]+$/.test(url);
}

function q(s: string): string {
  return `"${s.replace(/[\\"]/g, '\\$&')}"`;
}

/** The server block: static files with sendfile, the Hub's API answers, paths-info and resolve headers. */
function serverBlock(o: { root: string; listen: string }): string {
  return `server {
    listen ${o.listen};
    server_name _;
    root ${q(o.root)};
    sendfile on;
    tcp_nopush on;
    autoindex off;
    server_tokens off;
    client_max_body_size 64k;
    client_body_buffer_size 64k;
    keepalive_timeout 65s;
    types {
        text/html html;
        application/json json;
        text/plain lock txt;
        application/pgp-signature asc;
        application/zip whl;
    }
    default_type application/octet-stream;

    location / {
        limit_except GET { deny all; }
        index index.html;
        try_files $uri $uri/ =404;
    }
    location = /SHA256SUMS { default_type "text/plain; charset=utf-8"; }
    # The simple index: index.html, or its PEP 691 twin index.json when the client asks for JSON.
    location /simple/ {
        limit_except GET { deny all; }
        index $vb_simple_index;
        try_files $uri $uri/ =404;
        types {
            text/html html;
            application/vnd.pypi.simple.v1+json json;
        }
        add_header Vary Accept always;
    }
    # Hub API answers: <url>/index.json, tree listings with ?recursive=true from recursive.json.
    location /hf/api/ {
        limit_except GET { deny all; }
        default_type application/json;
        try_files $uri/$vb_hf_tree $uri/index.json =404;
    }
    location ~ ^/hf/api/(?<vb_t>models|datasets)/(?<vb_r>.+)/paths-info/(?<vb_rev>[^/]+)$ {
        limit_except POST { deny all; }
        proxy_method GET;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header Content-Type "";
        proxy_set_header X-VB-Paths-Info $request_body;
        proxy_pass http://127.0.0.1:$server_port/_vb/paths-info/$vb_t/$vb_r/$vb_rev;
    }
    location ~ ^/_vb/paths-info/(?<vb_t>models|datasets)/(?<vb_r>.+)/(?<vb_rev>[^/]+)$ {
        allow 127.0.0.1;
        deny all;
        default_type application/json;
        # Named captures: the map's own regex would overwrite $1…
        try_files /hf/api/$vb_t/$vb_r/paths-info/$vb_rev/$vb_hf_path/index.json =404;
    }
    # Files of the bundled repos, with the headers huggingface_hub needs (and never Xet's).
    location ~ ^/hf/(datasets/)?[^/]+(/[^/]+)?/resolve/ {
        limit_except GET { deny all; }
        etag off;
        add_header ETag $vb_hf_etag always;
        add_header X-Linked-Etag $vb_hf_etag always;
        add_header X-Repo-Commit $vb_hf_commit always;
        add_header X-Linked-Size $vb_hf_size always;
        add_header Access-Control-Expose-Headers "ETag, X-Linked-Etag, X-Repo-Commit, X-Linked-Size, Content-Length, Content-Range" always;
    }
}
`;
}
