using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator.Emit
{
    /// <summary>
    /// Phase 3 (CPU), continued: the members of a rule that carries scalars from step to step on the host
    /// (NAdam's Πₜ): their descriptors, read-only properties, and the <c>AdvanceHostState</c> override the base
    /// class calls once per step before the kernel scalars are computed.
    /// </summary>
    internal static partial class CpuEmitter
    {
        private static void EmitHostStateDescriptors(SourceWriter w, UpdateProgram program)
        {
            w.Line("hostStates: new global::OptGen.HostStateDescriptor[]");
            w.Line("{");
            w.Indent();
            foreach (HostStateDecl h in program.HostStates)
            {
                w.Line($"new({Literal(h.Name)}, {Literal(h.Symbol)}, {ExprText.DoubleLiteral(h.InitialValue)}),");
            }

            w.Outdent();
            w.Line("});");
        }

        private static void EmitHostStateMembers(SourceWriter w, UpdateProgram program)
        {
            for (int i = 0; i < program.HostStates.Count; i++)
            {
                HostStateDecl h = program.HostStates[i];
                w.Line();
                w.Line($"/// <summary>{Xml(h.Summary)} Carried from step to step; <c>Reset</c> restores {ExprText.DoubleLiteral(h.InitialValue)}.</summary>");
                w.Line($"public double {h.Name} => GetHostState({i});");
            }

            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Open("protected override void AdvanceHostState(global::System.Span<double> hostState, global::System.ReadOnlySpan<double> hyperparameters, long step)");
            IEnumerable<Expr> leaves = program.HostStates.SelectMany(h => Leaves(h.Advance)).ToList();
            if (leaves.Any(e => e.Op == ExprOp.StepNumber))
            {
                w.Line("double t = step;");
            }

            var used = new HashSet<string>(leaves.Where(e => e.Op == ExprOp.Hyperparameter).Select(e => e.Name));
            for (int i = 0; i < program.Hyperparameters.Count; i++)
            {
                if (used.Contains(program.Hyperparameters[i].Name))
                {
                    w.Line($"double {Camel(program.Hyperparameters[i].Name)} = hyperparameters[{i}];");
                }
            }

            for (int i = 0; i < program.HostStates.Count; i++)
            {
                w.Line($"double {Camel(program.HostStates[i].Name)} = hostState[{i}];");
            }

            Ir.MathText.Symbols symbols = Ir.MathText.Symbols.Of(program);
            symbols.PreviousHostState = true;
            for (int i = 0; i < program.HostStates.Count; i++)
            {
                HostStateDecl h = program.HostStates[i];
                w.Line();
                w.Line($"// {h.Symbol}ₜ = {Ir.MathText.Print(h.Advance, symbols)}");
                w.Line($"hostState[{i}] = {ExprText.Print(h.Advance, ExprFlavor.HostDouble, HostName)};");
            }

            w.Close();
        }
    }
}
