// Types for scripts/ferretdb.mjs (plain JS so the test runner needs no TypeScript loader).
export declare const root: string;
export declare function freePort(): Promise<number>;
export declare function waitForPort(port: number, ms: number): Promise<boolean>;
export declare function ferretBinary(): string | undefined;
export interface Ferret {
  url: string;
  pid: number;
  dir: string;
  stop(): Promise<void>;
}
export declare function startFerret(bin: string): Promise<Ferret>;
