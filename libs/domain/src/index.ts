export * from './shell-quote.js';
export * from './net-names.js';
