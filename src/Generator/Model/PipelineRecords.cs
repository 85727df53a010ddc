using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Diagnostics;
using OptGen.Generator.Helpers;

namespace OptGen.Generator.Model
{
    // The records the pipeline (Pipeline/OptGenGenerator.cs) passes between its steps, beside the models they carry:
    // Parse → ParseResult, Plan (Pipeline/OutputNames.cs) → OutputPlan of KernelUse. Plain data, cached by value.

    /// <summary>The result of parsing one [Optimizer] class: a spec when it is valid, and its diagnostics.</summary>
    internal sealed record ParseResult(OptimizerSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics, ExpressionRuleSpec? Expression = null)
    {
        /// <summary>The declaration's state storage attributes.</summary>
        public StateStorageSpec Storage { get; init; } = StateStorageSpec.Default;
    }

    /// <summary>
    /// Everything the generator adds to one compilation, with every name final: the optimizers (each with its
    /// unique file name and its kernel's unique type name) and the distinct kernels with their users.
    /// </summary>
    internal sealed record OutputPlan(EquatableArray<OptimizerModel> Optimizers, EquatableArray<KernelUse> Kernels);

    /// <summary>One optimizer's use of a kernel, with the host formula of each of the kernel's scalars.</summary>
    internal sealed record KernelUser(KernelModel Kernel, string User, EquatableArray<string> ScalarFormulas);

    /// <summary>A kernel, the optimizers that run it, and one note per kernel scalar saying how it is computed.</summary>
    internal sealed record KernelUse(KernelModel Kernel, EquatableArray<string> Users, EquatableArray<string> ScalarNotes)
    {
        public static KernelUse Of(IEnumerable<KernelUser> group)
        {
            KernelUser[] users = group.OrderBy(static u => u.User, System.StringComparer.Ordinal).ToArray();
            KernelModel kernel = users[0].Kernel;
            var notes = new string[kernel.ScalarNames.Count];
            for (int i = 0; i < notes.Length; i++)
            {
                var formulas = users.Select(u => i < u.ScalarFormulas.Count ? u.ScalarFormulas[i] : string.Empty).ToArray();
                notes[i] = formulas.Distinct().Count() == 1
                    ? formulas[0]
                    : string.Join("; ", users.Select((u, k) => $"{formulas[k]} for {u.User}"));
            }

            return new KernelUse(kernel, users.Select(static u => u.User).Distinct().ToEquatableArray(), notes.ToEquatableArray());
        }
    }
}
