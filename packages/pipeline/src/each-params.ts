// A resource's `each` params: env lists it is read once per item of (widgetId: SNAPENGAGE_WIDGET_ID), as the spec
// declares them. One reading for every place that needs them (the fan-out key, the progress's count, a failed
// widget's place in its list, the list checks before a run, a refresh's dropped widgets, the item's noun).
import type { LoadableResource } from 'snapengage-client';

export interface EachParam {
  /** The request parameter (`widgetId`). */
  name: string;
  /** The env list it takes its values from (`SNAPENGAGE_WIDGET_ID`). */
  env: string;
  /** The spec's noun for one value of the list (`widget`), if it names one. */
  item: string | undefined;
}

export function eachParams(resource: LoadableResource): EachParam[] {
  return Object.entries(resource.params).flatMap(([name, source]) =>
    source.from === 'env' && source.each === true ? [{ name, env: source.env, item: source.item }] : [],
  );
}
