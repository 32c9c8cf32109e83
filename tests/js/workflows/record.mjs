// What the workflows under test did, in order: `record(workflow, what, data)` from inside a
// step; the server returns the list at GET /records.
export const records = [];

export function record(workflow, what, data = null) {
  records.push({ workflow, what, data, at: Date.now() });
}
