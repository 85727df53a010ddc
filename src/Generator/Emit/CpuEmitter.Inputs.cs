using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator.Emit
{
    /// <summary>
    /// Phase 3 (CPU), continued: the read-only per-element inputs beside g (<see cref="Ir.ElementInputs"/>: the batch
    /// mean of per-example squared gradients). The runtime passes the input plane as a byte distance from the gradient
    /// buffer (<c>KernelArguments.InputOffset</c>), constant over a step's pieces and chunks because the plane is stored
    /// like the gradients, so the <c>Step</c> methods load it with the gradient codec at the gradient's index and the
    /// driver and the kernel interface stay as they are. Kernels without inputs are emitted as before.
    /// </summary>
    internal static partial class CpuEmitter
    {
        /// <summary>The kernel field (and <c>CreateKernel</c> parameter, camel-cased) holding the input plane's byte distance from g.</summary>
        private const string InputOffsetField = "InputOffset";

        /// <summary>The remarks' line that says what each input is (only for rules that read one).</summary>
        private static void EmitInputRemark(SourceWriter w, KernelModel kernel)
        {
            foreach (Ir.ElementInput input in Ir.ElementInputs.All.Where(i => kernel.Inputs.Contains(i.Symbol)))
            {
                w.Line($"/// <para>{input.Symbol} is {Xml(input.Description)}, passed to <c>Step</c> beside g (its <c>{Camel(input.RuntimeName)}</c> argument) and scaled as g is.</para>");
            }
        }

        /// <summary>The kernel's input-offset field and its constructor parameter (nothing without inputs).</summary>
        private static void EmitInputField(SourceWriter w, KernelModel kernel, List<string> constructorParameters)
        {
            if (kernel.Inputs.Count == 0)
            {
                return;
            }

            w.Line();
            w.Line($"/// <summary>The byte distance from the gradient buffer to the plane of {string.Join(", ", kernel.Inputs)} (stored like the gradients, element i beside gradient i).</summary>");
            // long, not nint: the struct is also a by-value argument of the ILGPU kernel, which takes no pointer-sized fields.
            w.Line($"public readonly long {InputOffsetField};");
            constructorParameters.Add("long " + Camel(InputOffsetField));
        }

        /// <summary>The constructor's assignment of the input offset.</summary>
        private static void EmitInputAssignment(SourceWriter w, KernelModel kernel)
        {
            if (kernel.Inputs.Count > 0)
            {
                w.Line($"{InputOffsetField} = {Camel(InputOffsetField)};");
            }
        }

        /// <summary>Invoke's input parameters, after g.</summary>
        private static IEnumerable<string> InputParameters(KernelModel kernel, string type) => kernel.Inputs.Select(i => $"{type} {i}");

        /// <summary>A Step method's loads of the inputs, with the gradient codec.</summary>
        private static void EmitInputLoads(SourceWriter w, KernelModel kernel, string type, string width)
        {
            foreach (string input in kernel.Inputs)
            {
                w.Line($"{type} {input} = TGradient.Load{width}(ref global::System.Runtime.CompilerServices.Unsafe.AddByteOffset(ref gradients, (nint){InputOffsetField}), i);");
            }
        }

        /// <summary>Invoke's input arguments in a Step method, after g.</summary>
        private static string InputArguments(KernelModel kernel) => string.Concat(kernel.Inputs.Select(i => ", " + i));

        /// <summary>CreateKernel's input-offset parameter (nothing without inputs).</summary>
        private static string InputOffsetParameter(SourceWriter w, KernelModel kernel)
        {
            if (kernel.Inputs.Count == 0)
            {
                return string.Empty;
            }

            w.Line($"/// <param name=\"{Camel(InputOffsetField)}\">The byte distance from the gradients to the plane of {string.Join(", ", kernel.Inputs)} (<see cref=\"global::OptGen.Kernels.KernelArguments.InputOffset\"/>).</param>");
            return $", nint {Camel(InputOffsetField)} = 0";
        }

        /// <summary>CreateKernel's input-offset argument in RunKernel, and the constructor argument in CreateKernel.</summary>
        private static string InputOffsetArgument(KernelModel kernel, string source) =>
            kernel.Inputs.Count == 0 ? string.Empty : $", {Camel(InputOffsetField)}: {source}";

        /// <summary>The descriptor's trailing <c>inputs:</c> argument (the runtime names), or empty.</summary>
        private static string DescriptorInputs(KernelModel kernel) =>
            kernel.Inputs.Count == 0
                ? string.Empty
                : "inputs: new[] { " + string.Join(", ", Ir.ElementInputs.All.Where(i => kernel.Inputs.Contains(i.Symbol)).Select(i => Literal(i.RuntimeName))) + " }";
    }
}
