using System.Linq;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator.Emit
{
    /// <summary>
    /// Phase 3 (CPU), continued: the batch size B. A program that reads the runtime input <c>BatchSize</c> (a
    /// hyperparameter declared per example, or <c>B</c> in an expression rule) gets a <c>batchSize</c> parameter on
    /// <c>CreateKernel</c>, fed from <c>KernelArguments.BatchSize</c>, and validates its per-step scalars through the
    /// engine's <c>ValidateStepScalars</c> overload that passes B. Programs that do not read B are emitted as before.
    /// </summary>
    internal static partial class CpuEmitter
    {
        /// <summary>Whether a per-step value of <paramref name="program"/> depends on the batch size.</summary>
        internal static bool UsesBatchSize(UpdateProgram program) =>
            program.Host.SelectMany(h => Leaves(h.Value)).Any(e => e.Op == ExprOp.RuntimeInput && e.Name == Ir.BatchSize.InputName);

        /// <summary>The remarks' line that says what B and a primed symbol mean (only for rules that read B).</summary>
        private static void EmitBatchSizeRemark(SourceWriter w, UpdateProgram program)
        {
            if (UsesBatchSize(program))
            {
                w.Line("/// <para>B is the step's batch size (<see cref=\"global::OptGen.Optimizer.BatchSize\"/>, or <see cref=\"global::OptGen.StepOptions.BatchSize\"/> for one step). A primed hyperparameter (η′, β′, μ′) is per example, the value for B = 1; every other one is per step.</para>");
            }
        }

        /// <summary>CreateKernel's batch-size argument in <c>RunKernel</c> (empty when the rule does not read B).</summary>
        private static string BatchSizeArgument(UpdateProgram program, string source) => UsesBatchSize(program) ? ", " + source : string.Empty;

        /// <summary>CreateKernel's batch-size parameter and its documentation (nothing when the rule does not read B).</summary>
        private static string BatchSizeParameter(SourceWriter w, UpdateProgram program)
        {
            if (!UsesBatchSize(program))
            {
                return string.Empty;
            }

            w.Line("/// <param name=\"batchSize\">The step's batch size B ≥ 1, which the per-example hyperparameters are scaled by.</param>");
            return ", double batchSize";
        }
    }
}
