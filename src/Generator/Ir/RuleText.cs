using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Model;

namespace OptGen.Generator.Ir
{
    /// <summary>
    /// The rule in math notation, printed from a program (the <c>&lt;remarks&gt;</c> of an attribute optimizer):
    /// <list type="number">
    /// <item>each state that starts at a hyperparameter's value, and each host state's recurrence;</item>
    /// <item>each host value by its symbol (<c>ρₜ = ρ∞ − 2·t·β₂ᵗ/(1 − β₂ᵗ)</c>), and each kernel scalar that
    /// selects per step by its name;</item>
    /// <item>each element statement, with every other kernel scalar replaced by its formula
    /// (<c>m ← β₁·m + (1 − β₁)·g</c>).</item>
    /// </list>
    /// </summary>
    internal static class RuleText
    {
        public static IEnumerable<string> Lines(UpdateProgram program)
        {
            List<HostStatement> inlined = program.KernelScalars.Where(Inlines).ToList();
            MathText.Symbols symbols = MathText.Symbols.Of(program).Inlining(inlined);

            foreach (StateDecl s in program.States.Where(s => s.InitialValue.Length > 0))
            {
                yield return $"{s.Symbol} starts at {symbols.Hyperparameter(s.InitialValue)}";
            }

            foreach (HostStateDecl h in program.HostStates)
            {
                symbols.PreviousHostState = true;
                string advance = MathText.Print(h.Advance, symbols);
                symbols.PreviousHostState = false;
                yield return $"{h.Symbol}ₜ = {advance}  ({h.Symbol}₀ = {MathText.Number(h.InitialValue)})";
            }

            foreach (HostStatement h in program.Host)
            {
                if (!h.IsKernelScalar)
                {
                    yield return $"{(h.Symbol.Length > 0 ? h.Symbol : h.Name)} = {MathText.Print(h.Value, symbols)}";
                }
                else if (!inlined.Contains(h) && h.Value.Op != ExprOp.RuntimeInput)
                {
                    yield return $"{h.Name} = {MathText.Print(h.Value, symbols)}";
                }
            }

            foreach (ElementStatement s in program.Body)
            {
                // A reduction's operand statement is where its value is taken: norm_0 = norm(p) over each tensor.
                ReductionDecl? reduction = s.DeclaresLocal ? program.Reductions.FirstOrDefault(r => r.Name == s.Target) : null;
                yield return reduction is null
                    ? MathText.Statement(s, symbols)
                    : $"{s.Target} = {reduction.Function}({MathText.Print(s.Value, symbols)}{(reduction.BlockLength > 0 ? ", " + reduction.BlockLength.ToString(System.Globalization.CultureInfo.InvariantCulture) : string.Empty)}) over each {ScopeWord(reduction.Scope)}";
            }
        }

        private static string ScopeWord(ReductionScopeKind scope) => scope switch
        {
            ReductionScopeKind.Row => "row",
            ReductionScopeKind.Column => "column",
            ReductionScopeKind.Block => "block",
            ReductionScopeKind.Group => "group",
            ReductionScopeKind.Global => "step",
            _ => "tensor",
        };

        // A scalar that chooses per step (t = 1, ρₜ > 5, maximize) reads better under its own name and definition;
        // the runtime's gradient factor keeps its name (the remarks' header says what it is).
        private static bool Inlines(HostStatement scalar) =>
            !MathText.Contains(scalar.Value, ExprOp.Select) && !MathText.Contains(scalar.Value, ExprOp.RuntimeInput);
    }
}
