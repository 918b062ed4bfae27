export declare const RECORD: string;
export declare function inputsDigest(): string;
export declare function bundleDigest(distDir: string): string;
