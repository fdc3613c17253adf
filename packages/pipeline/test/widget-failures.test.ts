// WidgetFailures (widget-failures.ts) on its own: which client errors are a widget's own, and the one line that names
// them all. widget-scale.test.ts and multiple-orgs.test.ts reach it through runs against the sandbox; the mixes a run
// rarely makes at once (a refusal beside a 404, two lists, one widget failing twice) are checked here.
import { describe, expect, it } from 'vitest';
import { SnapEngageError, type SnapEngageErrorKind } from 'snapengage-client';
import type { WidgetContext } from '../src/errors.js';
import { planPipeline } from '../src/plan.js';
import { WidgetFailures } from '../src/widget-failures.js';

const failure = (kind: SnapEngageErrorKind, status: number) =>
  new SnapEngageError({ kind, status, message: `HTTP ${status}`, operation: 'GET /api/v2/{orgId}/logs', url: 'http://127.0.0.1:9/api/v2/1/logs' });
const widget = (value: string, position: number, env = 'SNAPENGAGE_WIDGET_ID', of = 5): WidgetContext =>
  ({ item: 'widget', env, value, position, of, othersAnswered: true });

describe('WidgetFailures', () => {
  it('a 403 of one widget while others were answered is its own, named as refused beside the unknown ones', () => {
    const failures = new WidgetFailures({}, []);
    expect(failures.record(failure('not_found', 404), 'logs', widget('w2', 2))).toBe(true);
    expect(failures.record(failure('auth', 403), 'logs', widget('w4', 4))).toBe(true);
    expect(failures.record(failure('not_found', 410), 'logs', widget('w5', 5))).toBe(true);
    expect(failures.error()?.message).toBe(
      'Extracting logs failed: widgets w2 (item 2) and w5 (item 5) of 5 in SNAPENGAGE_WIDGET_ID are unknown to the API (HTTP 404/410), and widget w4 (item 4) was refused (HTTP 403) while others were answered: the credential may not reach the refused ones; correct them or remove them from the list',
    );
  });

  it('a widget failing for two resources is named once; a status the error has not is left out', () => {
    const failures = new WidgetFailures({}, []);
    failures.record(failure('not_found', 404), 'logs', widget('w2', 2));
    failures.record(failure('not_found', 404), 'chat_poll', widget('w2', 2));
    const noStatus = new SnapEngageError({ kind: 'not_found', message: 'gone', operation: 'GET x', url: 'http://127.0.0.1:9/x' });
    failures.record(noStatus, 'logs', widget('w3', 3));
    // Both resources that failed are named: only the one recorded first was, which was a matter of timing.
    expect(failures.error()?.message).toBe(
      'Extracting chat_poll and logs failed: widgets w2 (item 2) and w3 (item 3) of 5 in SNAPENGAGE_WIDGET_ID are unknown to the API (HTTP 404) while others were answered: remove them from the list',
    );
  });

  it('no status at all is no "(HTTP )"', () => {
    const failures = new WidgetFailures({}, []);
    for (const position of [1, 2]) failures.record(new SnapEngageError({ kind: 'not_found', message: 'gone', operation: 'GET x', url: 'http://127.0.0.1:9/x' }), 'logs', widget(`w${position}`, position));
    expect(failures.error()?.message).toContain('of 5 in SNAPENGAGE_WIDGET_ID are unknown to the API while others were answered');
  });

  it('names only the widgets of the list the first one is in', () => {
    const failures = new WidgetFailures({}, []);
    failures.record(failure('not_found', 404), 'logs', widget('w1', 1));
    failures.record(failure('not_found', 404), 'logs', widget('w3', 3));
    failures.record(failure('not_found', 404), 'users', widget('o1', 1, 'OTHER_LIST', 2));
    expect(failures.error()?.message).toBe(
      'Extracting logs failed: widgets w1 (item 1) and w3 (item 3) of 5 in SNAPENGAGE_WIDGET_ID are unknown to the API (HTTP 404) while others were answered: remove them from the list',
    );
  });

  it('resources are named by name, not by the place of the widget that failed for them; past 10 widgets, "and N more"', () => {
    const failures = new WidgetFailures({}, []);
    failures.record(failure('not_found', 404), 'widget_settings', widget('w1', 1, 'SNAPENGAGE_WIDGET_ID', 20));
    for (let position = 2; position <= 12; position++) failures.record(failure('not_found', 404), 'logs', widget(`w${position}`, position, 'SNAPENGAGE_WIDGET_ID', 20));
    expect(failures.error()?.message).toBe(
      'Extracting logs and widget_settings failed: widgets w1 (item 1), w2 (item 2), w3 (item 3), w4 (item 4), w5 (item 5), w6 (item 6), w7 (item 7), w8 (item 8), w9 (item 9), w10 (item 10) and 2 more of 20 in SNAPENGAGE_WIDGET_ID are unknown to the API (HTTP 404) while others were answered: remove them from the list',
    );
  });

  it('item 1 of one list and item 1 of another are two widgets, whichever request failed first', () => {
    const at = (url: string) => new SnapEngageError({ kind: 'not_found', status: 404, message: 'HTTP 404', operation: 'GET x', url });
    const failures = new WidgetFailures({}, []);
    failures.record(at('http://127.0.0.1:9/logs?w=w1'), 'logs', widget('w1', 1));
    failures.record(at('http://127.0.0.1:9/logs?w=o1'), 'logs', widget('o1', 1, 'OTHER_LIST', 2));
    failures.record(at('http://127.0.0.1:9/logs?w=w3'), 'logs', widget('w3', 3));
    expect(failures.error()?.message).toBe(
      'Extracting logs failed: widgets w1 (item 1) and w3 (item 3) of 5 in SNAPENGAGE_WIDGET_ID are unknown to the API (HTTP 404) while others were answered: remove them from the list',
    );
  });

  it('one failure in each of two lists: the list line for the one named, not the one-request message', () => {
    const failures = new WidgetFailures({}, []);
    failures.record(failure('not_found', 404), 'logs', widget('w2', 2));
    failures.record(failure('not_found', 404), 'users', widget('o1', 1, 'OTHER_LIST', 2));
    expect(failures.error()?.message).toBe(
      'Extracting users failed: widget o1 (item 1) of 2 in OTHER_LIST is unknown to the API (HTTP 404) while others were answered: remove it from the list',
    );
  });

  it('contextOf names a widget by its place, masking a credential pasted into the list; others answered excludes its own pages', () => {
    const token = 'tok-3f9a8e7d6c5b4a39';
    const env = { SNAPENGAGE_ORG_ID: 'o', SNAPENGAGE_API_TOKEN: token, SNAPENGAGE_API_KEY: 'k', SNAPENGAGE_WIDGET_ID: `w1,${token},w3` };
    const plan = planPipeline({ resources: { logs: true } }, env).resources.find((p) => p.name === 'logs')!;
    const param = Object.entries(plan.resource.params).find(([, source]) => source.from === 'env' && source.each)![0];
    const failures = new WidgetFailures(env, [token]);
    const pasted = failures.contextOf(plan, { [param]: token }, token)!;
    expect(pasted).toMatchObject({ item: 'widget', env: 'SNAPENGAGE_WIDGET_ID', position: 2, of: 3, othersAnswered: false });
    expect(pasted.value).not.toContain(token);
    // Pages of the widget itself are not "others": only another widget's answer makes a 404 the widget's own.
    failures.answer('logs', 'w1');
    expect(failures.contextOf(plan, { [param]: 'w1' }, 'w1')).toMatchObject({ value: 'w1', position: 1, othersAnswered: false });
    expect(failures.contextOf(plan, { [param]: 'w3' }, 'w3')).toMatchObject({ value: 'w3', position: 3, othersAnswered: true });
  });

  it('one widget failing for two resources names both, as two widgets would (a deleted widget fails for every resource)', () => {
    for (const order of [['logs', 'widget_settings'], ['widget_settings', 'logs']]) {
      const failures = new WidgetFailures({}, []);
      for (const resource of order) failures.record(failure('not_found', 404), resource, widget('w2', 2));
      const error = failures.error() as (Error & { resource: string }) | undefined;
      // Before: "Extracting logs failed: not found: widget w2 …", widget_settings left out (and from --json's error).
      expect(error?.message, order.join()).toBe(
        'Extracting logs and widget_settings failed: widget w2 (item 2) of 5 in SNAPENGAGE_WIDGET_ID is unknown to the API (HTTP 404) while others were answered: remove it from the list',
      );
      expect(error?.resource).toBe('logs');
    }
    const refused = new WidgetFailures({}, []);
    refused.record(failure('auth', 403), 'logs', widget('w2', 2));
    refused.record(failure('auth', 403), 'widget_settings', widget('w2', 2));
    expect(refused.error()?.message).toMatch(/: the credential may not reach it; correct it or remove it from the list$/);
  });

  // Requests run concurrently: which widget, resource or window slice fails first is a matter of timing. The line and
  // the --json document's error (its resource and kind) must not be: a daily run's alert would change from day to day.
  it('says the same whatever order the failures came in', () => {
    const at = (kind: SnapEngageErrorKind, status: number, url: string) =>
      new SnapEngageError({ kind, status, message: `HTTP ${status}`, operation: 'GET /api/v2/{orgId}/logs', url });
    const recorded: Array<[SnapEngageError, string, WidgetContext]> = [
      [at('not_found', 404, 'http://127.0.0.1:9/logs?w=w2&start=2026-01-02'), 'logs', widget('w2', 2)],
      [at('not_found', 404, 'http://127.0.0.1:9/logs?w=w2&start=2026-01-01'), 'logs', widget('w2', 2)],
      [at('auth', 403, 'http://127.0.0.1:9/settings?w=w2'), 'widget_settings', widget('w2', 2)],
      [at('auth', 403, 'http://127.0.0.1:9/logs?w=w4'), 'logs', widget('w4', 4)],
      [at('not_found', 410, 'http://127.0.0.1:9/logs?w=w5'), 'logs', widget('w5', 5)],
      [at('not_found', 404, 'http://127.0.0.1:9/users?o=o1'), 'users', widget('o1', 1, 'OTHER_LIST', 2)],
    ];
    const outcome = (order: typeof recorded) => {
      const failures = new WidgetFailures({}, []);
      for (const [error, resource, context] of order) failures.record(error, resource, context);
      const error = failures.error() as (Error & { resource: string; kind: string; cause: SnapEngageError }) | undefined;
      return { message: error?.message, resource: error?.resource, kind: error?.kind, cause: error?.cause.url };
    };
    const expected = outcome(recorded);
    expect(expected).toEqual({
      message: 'Extracting logs and widget_settings failed: widgets w2 (item 2) and w5 (item 5) of 5 in SNAPENGAGE_WIDGET_ID are unknown to the API (HTTP 404/410), and widget w4 (item 4) was refused (HTTP 403) while others were answered: the credential may not reach the refused ones; correct them or remove them from the list',
      resource: 'logs',
      kind: 'not_found',
      cause: 'http://127.0.0.1:9/logs?w=w2&start=2026-01-01',
    });
    for (let shift = 1; shift < recorded.length; shift++) {
      const rotated = [...recorded.slice(shift), ...recorded.slice(0, shift)];
      expect(outcome(rotated), `rotated by ${shift}`).toEqual(expected);
      expect(outcome([...rotated].reverse()), `rotated by ${shift}, reversed`).toEqual(expected);
    }
    // One widget alone, for one resource: its message quotes a request's URL, the same one every time.
    const single = recorded.filter(([, resource, context]) => context.value === 'w2' && context.env === 'SNAPENGAGE_WIDGET_ID' && resource === 'logs');
    const alone = (order: typeof single) => outcome(order);
    expect(alone(single).message).toContain('at http://127.0.0.1:9/logs?w=w2&start=2026-01-01');
    expect(alone([...single].reverse())).toEqual(alone(single));
  });
});
