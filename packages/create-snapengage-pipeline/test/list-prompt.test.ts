import { describe, expect, it } from 'vitest';
import { listProblem, quotedProblem } from '../src/prompts.js';

// The prompt for a comma-list variable (SNAPENGAGE_WIDGET_ID) re-asks what the pipeline's first run would refuse
// (packages/pipeline/src/env.ts envListProblem), while the user is still at the question.
describe('listProblem (comma-list prompts)', () => {
  it('keeps ids separated by commas, and an empty answer (an optional variable left unset)', () => {
    for (const ok of ['w1', 'w1,w2', 'w1, w2', ' w1 ,w2 ', 'w1,,w2', '', undefined]) expect(listProblem(ok), String(ok)).toBeUndefined();
  });

  it('re-asks ids separated by spaces or semicolons, or quoted', () => {
    for (const odd of ['w1 w2', 'w1;w2', '"w1,w2"', "'w1'"]) expect(listProblem(odd), odd).toMatch(/separate the ids with commas only/);
  });

  it('re-asks a value with commas and no id: the pipeline refuses it as "holds no item"', () => {
    for (const none of [',', ' , ', ',,']) expect(listProblem(none), none).toMatch(/no id/);
  });
});

// Every credential prompt: a value pasted with its quotes (a .env line, the docs) would be written with them, since .env
// quotes it again, and sent so.
describe('quotedProblem (credential prompts)', () => {
  it('re-asks a value wrapped in one kind of quotes, without repeating it (it may be a secret)', () => {
    for (const quoted of ['"tok"', "'tok'", '`tok`', ' "tok" ', '""']) {
      expect(quotedProblem(quoted), quoted).toMatch(/without the quotes around it/);
      expect(quotedProblem(quoted)).not.toContain('tok');
    }
  });

  it('re-asks a value holding all three kinds of quotes (.env cannot quote it), not after every question', () => {
    for (const odd of [`s3'c"r\`t`, ` '"\` `]) {
      expect(quotedProblem(odd), odd).toMatch(/which \.env cannot quote: leave it empty here and set it in the environment/);
      expect(quotedProblem(odd)).not.toContain('s3');
    }
  });

  it('keeps a value with quotes inside it or on one side only, and an empty one', () => {
    for (const ok of ['tok', 'to"k', '"tok', "tok'", `"tok'`, '"', '', undefined]) expect(quotedProblem(ok), String(ok)).toBeUndefined();
  });
});
