/**
 * The path as Koa sees it (`ctx.path`), for choosing the application: the request target up to
 * its query, or the path of an absolute-form target (`GET http://host/path`).
 */
export function requestPath(url: string | undefined): string {
  if (!url) return '/';
  if (url.startsWith('/')) {
    const query = url.indexOf('?');
    return query < 0 ? url : url.slice(0, query);
  }
  return URL.canParse(url) ? new URL(url).pathname : url;
}
