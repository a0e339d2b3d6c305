// Types of vm-batch.mjs, which stays plain JavaScript because jest loads it as a hook without transforming it.
export declare const BATCH_DIR_ENV: string;
export declare function batchTimeoutS(suites: number): number;
export declare function nestedKernelSuites(paths: string[]): { path: string; feature: string }[];
export declare function recordSuites(paths: string[]): { path: string; feature: string }[];
export declare function startVmBatch(): Promise<void>;
export declare function stopVmBatch(): Promise<void>;
