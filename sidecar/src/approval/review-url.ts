/**
 * Where reviewers act: a fixed URL (approvals.review_url), or one read when it is shown, because the
 * admin listener may be given port 0 and is bound only after the approval service is built (app.ts).
 */
export type ReviewUrl = string | (() => string);

export function reviewUrlOf(url: ReviewUrl): string {
  return typeof url === "function" ? url() : url;
}
