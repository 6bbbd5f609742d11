import type { NextFunction, Request, Response } from 'express';
import { compile, type RouteSpec, type Validation } from '@zfs-sync/contracts';

export interface ResponseViolation {
  route: string;
  status: number;
  detail: string;
}

const validators = new WeakMap<object, (data: unknown) => Validation<unknown>>();
/** Named schemas ($id) are nested in several answers; ajv registers an $id once, so drop them here. */
const anonymous = (s: unknown): unknown =>
  Array.isArray(s) ? s.map(anonymous) : s && typeof s === 'object' ? Object.fromEntries(Object.entries(s).filter(([k]) => k !== '$id').map(([k, v]) => [k, anonymous(v)])) : s;
function validatorFor(schema: object) {
  let v = validators.get(schema);
  if (!v) validators.set(schema, (v = compile<unknown>(anonymous(schema) as object)));
  return v;
}

/** Whether a JSON answer is what the route's catalog entry documents for its status; a violation is reported. */
export function checkAnswer(spec: RouteSpec, status: number, body: unknown, report: (v: ResponseViolation) => void): void {
  const name = `${spec.method.toUpperCase()} ${spec.path}`;
  const documented = spec.responses[status];
  if (!documented) report({ route: name, status, detail: `status ${status} is not documented` });
  else if (!documented.schema) report({ route: name, status, detail: 'documented without a body, but a JSON body was sent' });
  else {
    const result = validatorFor(documented.schema)(JSON.parse(JSON.stringify(body)));
    if (!result.ok) report({ route: name, status, detail: `${result.error.pointer || '/'}: ${result.error.detail}` });
  }
}

/**
 * Test mode: every JSON answer of a documented route is checked against the schema its catalog
 * entry documents for that status, so the OpenAPI document cannot drift from what the handlers
 * send. Problems (application/problem+json) are sent by one function and are not checked here.
 */
export function checkResponses(report: (v: ResponseViolation) => void) {
  return (_req: Request, res: Response, next: NextFunction) => {
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      const spec = res.locals.route as RouteSpec | undefined;
      if (spec) checkAnswer(spec, res.statusCode, body, report);
      return json(body);
    };
    next();
  };
}
