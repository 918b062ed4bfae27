/**
 * What layers hand to later layers. Each layer declares one typed key in
 * its own `outputs.ts`; the engine keeps one record per key, written only
 * by the layer that declares it and cleared before that layer observes
 * again, so a reader sees either this run's latest answer or nothing.
 */

/** A typed slot for one layer's outputs. `T` is carried for type inference only. */
export interface OutputKey<T> {
  readonly name: string;
  /** Never set: it only ties the key to its record type. */
  readonly recordType?: T;
}

export function outputKey<T>(name: string): OutputKey<T> {
  return Object.freeze({ name });
}

/** Read access, as layers and the run session get it. */
export interface Outputs {
  /** The record, or undefined when the declaring layer has not published one (yet) in this run. */
  get<T>(key: OutputKey<T>): T | undefined;
}

export class OutputStore implements Outputs {
  private readonly records = new Map<OutputKey<unknown>, unknown>();

  get<T>(key: OutputKey<T>): T | undefined {
    return this.records.get(key) as T | undefined;
  }

  set<T>(key: OutputKey<T>, value: T): void {
    this.records.set(key, value);
  }

  clear(key: OutputKey<unknown>): void {
    this.records.delete(key);
  }
}
