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
    expect(failures.error()?.message).toBe(
      'Extracting logs failed: widgets w2 (item 2) and w3 (item 3) of 5 in SNAPENGAGE_WIDGET_ID are unknown to the API (HTTP 404) while others were answered: remove them from the list',
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
});
