/** Typed errors thrown by the reporter (only at construction: sending never throws). */

/** An option given to createReporter() is missing or has the wrong type or range. */
export class ReporterOptionError extends TypeError {
  readonly code = 'INVALID_OPTION';
  constructor(
    /** The option at fault, e.g. "batch.maxEvents". */
    readonly option: string,
    message: string,
  ) {
    super(`createReporter: option "${option}" ${message}`);
    this.name = 'ReporterOptionError';
  }
}
