/**
 * The lessons plug-in as the HTTP server sees it: the contract's shape
 * (contract/lessons-plugin.ts) with this server's sandbox and router types.
 */
import type { Router } from 'express';
import type { LessonsPlugin as LessonsPluginShape, PluginSession as PluginSessionShape } from '../contract/lessons-plugin.ts';
import type { Sandbox } from '../sandbox/types.ts';

export type PluginSession = PluginSessionShape<Sandbox>;
export type LessonsPlugin = LessonsPluginShape<Sandbox, Router>;
