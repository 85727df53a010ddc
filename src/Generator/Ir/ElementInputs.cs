using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator.Ir
{
    /// <summary>A read-only per-element input beside g: its symbol in the IR and the expression language, its runtime name (in the descriptor), and what it is.</summary>
    /// <param name="NonNegative">Whether every value of the input is ≥ 0 (a mean of squares), which the state-sign proof (<see cref="StateSigns"/>) may use.</param>
    internal sealed record ElementInput(string Symbol, string RuntimeName, string Description, bool NonNegative);

    /// <summary>
    /// The per-element inputs a rule may read besides p, g and its state (one table for both front ends, the post-pass,
    /// the traffic accounting and the emitters). Each is a plane the caller passes to <c>Step</c> beside the gradient,
    /// stored like the gradient (float32, Half or bfloat16), read once per element (4 bytes with float32), and scaled
    /// like the gradient: the runtime's factor on g (unscaling, clipping) multiplies a square by its square.
    /// </summary>
    internal static class ElementInputs
    {
        /// <summary>The batch mean of per-example squared gradients, (1/B)·Σ_b g_b² ([SecondMoment(Input = SecondMomentInput.PerExampleSquares)], or gsq).</summary>
        public static readonly ElementInput PerExampleSquares = new("gsq", "PerExampleSquares", "the batch mean of per-example squared gradients", NonNegative: true);

        public static readonly IReadOnlyList<ElementInput> All = new[] { PerExampleSquares };

        /// <summary>The inputs <paramref name="body"/> reads, in table order.</summary>
        public static EquatableArray<ElementInput> Read(IEnumerable<ElementStatement> body)
        {
            var names = new HashSet<string>(body.SelectMany(s => Variables(s.Value)));
            return All.Where(i => names.Contains(i.Symbol)).ToEquatableArray();
        }

        public static bool IsInput(string name) => All.Any(i => i.Symbol == name);

        /// <summary>Whether <paramref name="name"/> is an input whose values are never negative.</summary>
        public static bool IsNonNegativeInput(string name) => All.Any(i => i.Symbol == name && i.NonNegative);

        /// <summary>
        /// Scales every input the program reads as g is scaled: after the first statement (g ← g·GradientScale),
        /// <c>gsq ← gsq·GradientScaleSquared</c> with GradientScaleSquared = gradientScale² (a loss scale S multiplies
        /// each per-example gradient by S and its square by S²; so does a clip factor).
        /// </summary>
        public static UpdateProgram Scaled(UpdateProgram program)
        {
            EquatableArray<ElementInput> inputs = Read(program.Body);
            if (inputs.Count == 0)
            {
                return program;
            }

            var body = program.Body.ToList();
            var host = program.Host.ToList();
            Expr scale = Expr.RuntimeInput("GradientScale");
            host.Insert(host.FindIndex(h => h.Name == "GradientScale") + 1, new HostStatement("GradientScaleSquared", scale * scale, true, string.Empty));
            int at = 1;
            foreach (ElementInput input in inputs)
            {
                body.Insert(at++, new ElementStatement(input.Symbol, Expr.Var(input.Symbol) * Expr.Scalar("GradientScaleSquared"), false,
                    $"Unscale and clip {input.Description} as g, by the square of its factor."));
            }

            return program with { Host = host.ToEquatableArray(), Body = body.ToEquatableArray() };
        }

        private static IEnumerable<string> Variables(Expr e) =>
            e.Op == ExprOp.Variable ? new[] { e.Name } : e.Args.SelectMany(Variables);
    }
}
