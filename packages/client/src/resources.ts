// Lookups over the generated catalog that both the loader and the scaffolder need.
import { nonLoadableResources } from '../../../generated/catalog.js';

/**
 * Why the name of an operation of the spec that changes state (`start_chat`, listed as a resource on dlt's SnapEngage
 * page, or `create_user`) is not a resource to load, or undefined for any other name.
 */
export function notLoadableReason(name: string): string | undefined {
  return nonLoadableResources.find((r) => r.name === name)?.whyNotLoadable;
}
